/**
 * The thin host adapter of world `arqon:bus/policy` on a sandbox instance: the host imports
 * (`log`, `random-u64`, `logical-time`), `configure`, and `evaluate` with the pulse's inputs
 * written into guest memory and the verdict read back. jco's generated glue is avoided: it
 * costs several µs per call, and this runs for every pulse.
 * @module
 */
import {
  ComponentRejectedError,
  type GuestLogger,
  HOST_MODULE,
  type HostImports,
  HostInterface,
  type Instance,
  type Module,
  SandboxTrapError,
  SETUP_FUEL_FACTOR,
} from "../runtime/sandbox/mod.ts";
import { BatchLowering, readVerdictAt, readVerdicts } from "./policy_batch.ts";
import {
  BATCH_EXPORT,
  PER_PULSE_IMPORTS,
  type PolicyInput,
  type PolicyVerdict,
} from "./policy_world.ts";

const MAX_REASON_BYTES = 1024;

type Exported = {
  evaluate: (...args: number[]) => number;
  configure: (p: number, l: number) => number;
  cabi_post_evaluate?: (p: number) => void;
  cabi_post_configure?: (p: number) => void;
  evaluate_batch?: (list: number, n: number) => number;
  cabi_post_evaluate_batch?: (p: number) => void;
};

/**
 * Whether instances of `module` can decide many pulses in one call: it exports the batch
 * side ABI and imports no host function whose answer depends on the pulse.
 */
export function offersBatches(module: Module): boolean {
  const compiled = module.compiled;
  if (!WebAssembly.Module.exports(compiled).some((e) => e.name === BATCH_EXPORT)) return false;
  return !WebAssembly.Module.imports(compiled).some((i) =>
    i.module === HOST_MODULE && PER_PULSE_IMPORTS.includes(i.name)
  );
}

/** One live policy instance; after any failure it is dead and must be replaced. */
export class PolicyInstance {
  readonly #inst: Instance;
  readonly #evaluate: (...args: number[]) => number;
  readonly #configure: (p: number, l: number) => number;
  readonly #postEvaluate?: (p: number) => void;
  readonly #postConfigure?: (p: number) => void;
  readonly #fuelBudget: bigint;
  readonly #host: HostInterface;
  readonly #evaluateBatch?: (list: number, n: number) => number;
  readonly #postEvaluateBatch?: (p: number) => void;
  /** Created on the first batch. */
  #lowering?: BatchLowering;

  /**
   * Instantiates `module` (checked against `POLICY_WORLD`) with the policy host imports.
   * Throws {@linkcode ComponentRejectedError} when its start function fails.
   */
  constructor(module: Module, logger?: GuestLogger) {
    this.#fuelBudget = BigInt(module.limits.fuelPerCall);
    this.#host = new HostInterface(logger);
    const host: HostImports = { [HOST_MODULE]: this.#host.functions() };
    this.#inst = module.instantiate(host);
    this.#host.attach(this.#inst);
    const ex = this.#inst.exports as unknown as Exported;
    this.#evaluate = ex.evaluate;
    this.#configure = ex.configure;
    this.#postEvaluate = ex.cabi_post_evaluate;
    this.#postConfigure = ex.cabi_post_configure;
    this.#evaluateBatch = ex.evaluate_batch;
    this.#postEvaluateBatch = ex.cabi_post_evaluate_batch;
  }

  /** False once a call failed: the instance's state can no longer be trusted. */
  get alive(): boolean {
    return this.#inst.alive;
  }

  /** Fuel the last call used. */
  get lastFuelUsed(): number {
    return this.#inst.lastFuelUsed;
  }

  /** Runs the guest's `configure`; throws ComponentRejectedError with its error message. */
  configure(config: string): void {
    const inst = this.#inst;
    let error: string | null = null;
    try {
      inst.begin(this.#fuelBudget * BigInt(SETUP_FUEL_FACTOR));
      this.#host.beginSetup();
      try {
        const p = inst.writeString(config);
        const ret = this.#configure(p, inst.lastLength);
        inst.refresh();
        inst.checkRange(ret, 12, "configure result");
        const disc = inst.bytes[ret];
        if (disc === 1) {
          const sp = inst.view.getUint32(ret + 4, true);
          const sl = inst.view.getUint32(ret + 8, true);
          error = inst.readString(sp, Math.min(sl, MAX_REASON_BYTES), "configure error");
        } else if (disc !== 0) {
          throw new SandboxTrapError("bad_result", `configure returned discriminant ${disc}`);
        }
        this.#postConfigure?.(ret);
      } catch (e) {
        throw inst.fail(e);
      }
    } catch (e) {
      const detail = e instanceof Error ? e.message : String(e);
      throw new ComponentRejectedError("configure_failed", `configure failed: ${detail}`);
    }
    if (error !== null) {
      inst.discard();
      throw new ComponentRejectedError(
        "configure_failed",
        `configure rejected the configuration: ${error}`,
      );
    }
  }

  /** Evaluates one pulse. Throws {@linkcode SandboxTrapError} on any failure. */
  evaluate(input: PolicyInput): PolicyVerdict {
    const inst = this.#inst;
    inst.begin(this.#fuelBudget);
    this.#host.begin(input.entropySeed, input.wallMs, input.logical);
    // The hot path, written out (no closure, no tuples): this runs for every pulse. The
    // context's strings and the header list share one guest block (one allocation call);
    // the payload gets a block of its own, which a guest may view in place.
    try {
      const nh = input.headers.length;
      const base = inst.packContext(
        input.reality,
        input.topic,
        input.producer,
        input.contentType,
        input.headers,
      );
      const at = inst.packedAt;
      const len = inst.packedLength;
      const payloadPtr = inst.writeBytes(input.payload, 1);
      const ret = this.#evaluate(
        at[0],
        len[0],
        at[1],
        len[1],
        at[2],
        len[2],
        nh > 0 ? base : 0,
        nh,
        at[3],
        len[3],
        payloadPtr,
        input.payload.length,
      );
      inst.refresh();
      const verdict = readVerdictAt(inst, ret);
      this.#postEvaluate?.(ret);
      return verdict;
    } catch (e) {
      throw inst.fail(e);
    }
  }

  /**
   * Decides `inputs[0..n)` in one call of the batch export (the module must offer it: see
   * {@linkcode offersBatches}), their verdicts into `out[0..n)`. The whole batch runs on ONE
   * call's fuel budget and in one instance's memory cap: no pulse of it can use more than a
   * call of its own could. Throws {@linkcode SandboxTrapError} on any failure (the instance
   * is then dead): the caller decides the pulses again one at a time.
   */
  evaluateBatch(inputs: readonly PolicyInput[], n: number, out: PolicyVerdict[]): void {
    const inst = this.#inst;
    inst.begin(this.#fuelBudget);
    // Only policies importing no per-pulse host function are batched: log is all they call.
    this.#host.begin(0, 0, 0);
    try {
      const list = (this.#lowering ??= new BatchLowering()).lower(inst, inputs, n);
      const ret = this.#evaluateBatch!(list, n);
      readVerdicts(inst, ret, n, out);
      this.#postEvaluateBatch?.(ret);
    } catch (e) {
      throw inst.fail(e);
    }
  }
}
