/**
 * The thin host adapter of world `arqon:bus/policy` on a sandbox instance: the host imports
 * (`log`, `random-u64`, `logical-time`), `configure`, and `evaluate` with the pulse's inputs
 * written into guest memory and the verdict read back. jco's generated glue is avoided: it
 * costs several µs per call, and this runs for every pulse.
 * @module
 */
import {
  ComponentRejectedError,
  type HostImports,
  type Instance,
  type Module,
  SandboxTrapError,
  SETUP_FUEL_FACTOR,
} from "../runtime/sandbox/mod.ts";
import { HOST_MODULE } from "../wit/mod.ts";
import {
  type GuestLogger,
  POLICY_HOST_SIGNATURES,
  type PolicyInput,
  type PolicyVerdict,
} from "./policy_world.ts";

const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;
const MAX_REASON_BYTES = 1024;
const MAX_LOG_BYTES = 4096;
const MAX_LOGS_PER_CALL = 16;

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
  #rng = 0n;
  #seed: bigint | number = 0;
  #seeded = false;
  #wallMs: bigint | number = 0;
  #logical = 0;
  #logs = 0;
  readonly #logger?: GuestLogger;

  /**
   * Instantiates `module` (checked against `POLICY_WORLD`) with the policy host imports.
   * Throws {@linkcode ComponentRejectedError} when its start function fails.
   */
  constructor(module: Module, logger?: GuestLogger) {
    this.#logger = logger;
    this.#fuelBudget = BigInt(module.limits.fuelPerCall);
    const host: HostImports = {
      [HOST_MODULE]: {
        "log": {
          signature: POLICY_HOST_SIGNATURES["log"],
          fn: (level: number, ptr: number, len: number) => this.#hostLog(level, ptr, len),
        },
        "random-u64": {
          signature: POLICY_HOST_SIGNATURES["random-u64"],
          fn: () => this.#hostRandom(),
        },
        "logical-time": {
          signature: POLICY_HOST_SIGNATURES["logical-time"],
          fn: (retptr: number) => this.#hostLogicalTime(retptr),
        },
      },
    };
    this.#inst = module.instantiate(host);
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

  #hostLog(level: number, ptr: number, len: number): void {
    if (++this.#logs > MAX_LOGS_PER_CALL || !this.#logger) return;
    const inst = this.#inst;
    inst.refresh();
    const text = inst.readString(ptr, Math.min(len, MAX_LOG_BYTES), "log message");
    this.#logger(LOG_LEVELS[level] ?? "info", text);
  }

  #hostRandom(): bigint {
    // splitmix64: deterministic per pulse.
    if (!this.#seeded) {
      this.#rng = BigInt.asUintN(64, toBigInt(this.#seed));
      this.#seeded = true;
    }
    this.#rng = (this.#rng + 0x9e3779b97f4a7c15n) & 0xffffffffffffffffn;
    let z = this.#rng;
    z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & 0xffffffffffffffffn;
    z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & 0xffffffffffffffffn;
    return BigInt.asIntN(64, z ^ (z >> 31n));
  }

  #hostLogicalTime(retptr: number): void {
    const inst = this.#inst;
    inst.refresh();
    inst.checkRange(retptr, 12, "logical-time result");
    inst.view.setBigUint64(retptr, BigInt.asUintN(64, toBigInt(this.#wallMs)), true);
    inst.view.setUint32(retptr + 8, this.#logical, true);
  }

  /** Runs the guest's `configure`; throws ComponentRejectedError with its error message. */
  configure(config: string): void {
    const inst = this.#inst;
    let error: string | null = null;
    try {
      inst.begin(this.#fuelBudget * BigInt(SETUP_FUEL_FACTOR));
      this.#logs = 0;
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
    this.#seed = input.entropySeed;
    this.#seeded = false;
    this.#wallMs = input.wallMs;
    this.#logical = input.logical;
    this.#logs = 0;
    // The hot path, written out (no closure, no tuples): this runs for every pulse.
    try {
      const rp = inst.writeString(input.reality);
      const rl = inst.lastLength;
      const tp = inst.writeString(input.topic);
      const tl = inst.lastLength;
      const pp = inst.writeString(input.producer);
      const pl = inst.lastLength;
      const headers = input.headers;
      const n = headers.length;
      let hp = 0;
      if (n > 0) {
        const pairs = new Array<number>(n * 4);
        for (let i = 0; i < n; i++) {
          pairs[i * 4] = inst.writeString(headers[i][0]);
          pairs[i * 4 + 1] = inst.lastLength;
          pairs[i * 4 + 2] = inst.writeString(headers[i][1]);
          pairs[i * 4 + 3] = inst.lastLength;
        }
        hp = inst.alloc(n * 16, 4);
        const view = inst.view;
        for (let i = 0; i < n * 4; i++) view.setUint32(hp + i * 4, pairs[i], true);
      }
      const cp = inst.writeString(input.contentType);
      const cl = inst.lastLength;
      const payloadPtr = inst.writeBytes(input.payload, 1);
      const ret = this.#evaluate(
        rp,
        rl,
        tp,
        tl,
        pp,
        pl,
        hp,
        n,
        cp,
        cl,
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

/** A u64 input as BigInt; numbers that are not integers count as their integer part, NaN as 0. */
function toBigInt(v: bigint | number): bigint {
  if (typeof v === "bigint") return v;
  return Number.isFinite(v) ? BigInt(Math.trunc(v)) : 0n;
}
