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
import type { PolicyInput, PolicyVerdict } from "./policy_world.ts";

const MAX_REASON_BYTES = 1024;

type Exported = {
  evaluate: (...args: number[]) => number;
  configure: (p: number, l: number) => number;
  cabi_post_evaluate?: (p: number) => void;
  cabi_post_configure?: (p: number) => void;
};

/** One live policy instance; after any failure it is dead and must be replaced. */
export class PolicyInstance {
  readonly #inst: Instance;
  readonly #evaluate: (...args: number[]) => number;
  readonly #configure: (p: number, l: number) => number;
  readonly #postEvaluate?: (p: number) => void;
  readonly #postConfigure?: (p: number) => void;
  readonly #fuelBudget: bigint;
  readonly #host: HostInterface;
  /** The context's strings of the current call, reused call after call. */
  readonly #strings: string[] = [];

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
      const headers = input.headers;
      const nh = headers.length;
      const strings = this.#strings;
      strings[0] = input.reality;
      strings[1] = input.topic;
      strings[2] = input.producer;
      strings[3] = input.contentType;
      for (let i = 0; i < nh; i++) {
        strings[4 + 2 * i] = headers[i][0];
        strings[5 + 2 * i] = headers[i][1];
      }
      const count = 4 + 2 * nh;
      const base = inst.packStrings(strings, count, nh * 16);
      const at = inst.packedAt;
      const len = inst.packedLength;
      if (nh > 0) {
        const view = inst.view;
        for (let i = 0; i < 2 * nh; i++) {
          view.setUint32(base + i * 8, at[4 + i], true);
          view.setUint32(base + i * 8 + 4, len[4 + i], true);
        }
      }
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
      const verdict = this.#readVerdict(ret);
      this.#postEvaluate?.(ret);
      return verdict;
    } catch (e) {
      throw inst.fail(e);
    }
  }

  #readVerdict(ret: number): PolicyVerdict {
    const inst = this.#inst;
    inst.refresh();
    inst.checkRange(ret, 20, "verdict");
    const disc = inst.bytes[ret];
    const view = inst.view;
    if (disc === 0) return { kind: "allow" };
    if (disc === 1) {
      const p = view.getUint32(ret + 4, true);
      const l = view.getUint32(ret + 8, true);
      return {
        kind: "deny",
        reason: inst.readString(p, Math.min(l, MAX_REASON_BYTES), "deny reason"),
      };
    }
    if (disc === 2) {
      const p = view.getUint32(ret + 4, true);
      const l = view.getUint32(ret + 8, true);
      const rp = view.getUint32(ret + 12, true);
      const rl = view.getUint32(ret + 16, true);
      return {
        kind: "redact",
        payload: inst.readBytes(p, l, "redacted payload"),
        reason: inst.readString(rp, Math.min(rl, MAX_REASON_BYTES), "redact reason"),
      };
    }
    throw new SandboxTrapError("bad_result", `the verdict has an unknown discriminant ${disc}`);
  }
}
