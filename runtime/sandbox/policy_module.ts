/**
 * Loads a policy component into a metered, memory-capped core module and runs it through a
 * thin host adapter for the fixed signatures of world `arqon:bus/policy` (jco's generated
 * glue is avoided: it costs several µs per call).
 * @module
 */
import { extractPolicyCore } from "./component.ts";
import { ComponentRejectedError, SandboxTrapError, type TrapKind } from "./errors.ts";
import { FUEL_EXPORT, GROW_REFUSED_EXPORT } from "./names.ts";
import { DEFAULT_LIMITS, type SandboxLimits, SETUP_FUEL_FACTOR } from "./limits.ts";
import { capMemory } from "./wasm_sections.ts";
import { WorkerInstrumenter } from "./instrumenter.ts";
import { HOST_MODULE } from "../../wit/mod.ts";

/** The pulse-level inputs of one policy call. */
export interface PolicyInput {
  /** Reality id (`default` when the producer gave none). */
  reality: string;
  /** The pulse's topic. */
  topic: string;
  /** The producer's authenticated identity. */
  producer: string;
  /** Header pairs, in the order given (callers sort by name for determinism). */
  headers: readonly (readonly [string, string])[];
  /** The pulse's content type. */
  contentType: string;
  /** The payload as the policy should see it (after earlier redactions). */
  payload: Uint8Array;
  /** Seed of `random-u64` (a u64; converted only when the guest draws). */
  entropySeed: bigint | number;
  /** `logical-time` answer (ms). */
  wallMs: bigint | number;
  /** `logical-time` answer (HLC logical counter). */
  logical: number;
}

/** A policy's decision as the adapter read it from guest memory. */
export type PolicyVerdict =
  | { kind: "allow" }
  | { kind: "deny"; reason: string }
  | { kind: "redact"; payload: Uint8Array; reason: string };

/** Receives `log` calls of a guest. */
export type GuestLogger = (level: "debug" | "info" | "warn" | "error", message: string) => void;

const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;
const MAX_REASON_BYTES = 1024;
const MAX_LOG_BYTES = 4096;
const MAX_LOGS_PER_CALL = 16;

/** A compiled, instrumented policy: instantiate it any number of times. */
export class PolicyModule {
  /** SHA-256 of the component, hex. */
  readonly digest: string;
  /** The limits it was prepared for. */
  readonly limits: Readonly<SandboxLimits>;
  readonly #module: WebAssembly.Module;

  /** Wraps an instrumented, compiled module (see {@linkcode loadPolicyModule}). */
  constructor(digest: string, module: WebAssembly.Module, limits: SandboxLimits) {
    this.digest = digest;
    this.#module = module;
    this.limits = Object.freeze({ ...limits });
  }

  /**
   * Instantiates the module and runs `configure(config)`. Throws
   * {@linkcode ComponentRejectedError} when the start function or `configure` fails.
   */
  instantiate(config: string, logger?: GuestLogger): PolicyInstance {
    const instance = new PolicyInstance(this.#module, this.limits, logger);
    instance.configure(config);
    return instance;
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** One live instance; after any failure it is dead and must be replaced. */
export class PolicyInstance {
  /** False once a call failed: the instance's state can no longer be trusted. */
  alive = true;
  readonly #limits: SandboxLimits;
  readonly #memory: WebAssembly.Memory;
  readonly #fuel: WebAssembly.Global;
  readonly #growRefused: WebAssembly.Global;
  readonly #realloc: (a: number, b: number, c: number, d: number) => number;
  readonly #evaluate: (...args: number[]) => number;
  readonly #configure: (p: number, l: number) => number;
  readonly #postEvaluate?: (p: number) => void;
  readonly #postConfigure?: (p: number) => void;
  readonly #fuelBudget: bigint;
  #bytes: Uint8Array;
  #view: DataView;
  /** Length of the string the last `#putString` wrote. */
  #len = 0;
  /** Budget of the last call, for `lastFuelUsed`. */
  #lastBudget = 0n;
  #rng = 0n;
  #seed: bigint | number = 0;
  #seeded = false;
  #wallMs: bigint | number = 0;
  #logical = 0;
  #logs = 0;
  readonly #logger?: GuestLogger;

  /** Instantiates `module`; throws ComponentRejectedError when its start function fails. */
  constructor(module: WebAssembly.Module, limits: SandboxLimits, logger?: GuestLogger) {
    this.#limits = limits;
    this.#logger = logger;
    this.#fuelBudget = BigInt(limits.fuelPerCall);
    const host: Record<string, (...args: number[]) => unknown> = {
      "log": (level: number, ptr: number, len: number) => this.#hostLog(level, ptr, len),
      "random-u64": () => this.#hostRandom(),
      "logical-time": (retptr: number) => this.#hostLogicalTime(retptr),
    };
    let instance: WebAssembly.Instance;
    try {
      instance = new WebAssembly.Instance(module, { [HOST_MODULE]: host });
    } catch (e) {
      throw new ComponentRejectedError(
        "start_failed",
        `the start function failed: ${describeTrap(e)}`,
      );
    }
    const ex = instance.exports as Record<string, unknown>;
    this.#memory = ex.memory as WebAssembly.Memory;
    this.#fuel = ex[FUEL_EXPORT] as WebAssembly.Global;
    this.#growRefused = ex[GROW_REFUSED_EXPORT] as WebAssembly.Global;
    this.#realloc = ex.cabi_realloc as (a: number, b: number, c: number, d: number) => number;
    this.#evaluate = ex.evaluate as (...args: number[]) => number;
    this.#configure = ex.configure as (p: number, l: number) => number;
    this.#postEvaluate = ex.cabi_post_evaluate as ((p: number) => void) | undefined;
    this.#postConfigure = ex.cabi_post_configure as ((p: number) => void) | undefined;
    this.#bytes = new Uint8Array(this.#memory.buffer);
    this.#view = new DataView(this.#memory.buffer);
  }

  /** Fuel the last call used (read on demand: the counter keeps its value until the next call). */
  get lastFuelUsed(): number {
    return Number(this.#lastBudget - (this.#fuel.value as bigint));
  }

  #refresh(): void {
    if (this.#bytes.buffer !== this.#memory.buffer) {
      this.#bytes = new Uint8Array(this.#memory.buffer);
      this.#view = new DataView(this.#memory.buffer);
    }
  }

  #hostLog(level: number, ptr: number, len: number): void {
    if (++this.#logs > MAX_LOGS_PER_CALL || !this.#logger) return;
    this.#refresh();
    const text = this.#readString(ptr, Math.min(len, MAX_LOG_BYTES), "log message");
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
    this.#refresh();
    this.#checkRange(retptr, 12, "logical-time result");
    this.#view.setBigUint64(retptr, BigInt.asUintN(64, toBigInt(this.#wallMs)), true);
    this.#view.setUint32(retptr + 8, this.#logical, true);
  }

  #checkRange(ptr: number, len: number, what: string): void {
    if (ptr < 0 || len < 0 || ptr + len > this.#bytes.length) {
      throw new SandboxTrapError("bad_result", `${what} points outside guest memory`);
    }
  }

  #readString(ptr: number, len: number, what: string): string {
    this.#checkRange(ptr, len, what);
    const bytes = this.#bytes;
    if (len <= 256) {
      let ascii = true;
      for (let i = ptr; i < ptr + len; i++) {
        if (bytes[i] > 0x7f) {
          ascii = false;
          break;
        }
      }
      if (ascii) {
        // Spreading a typed array into fromCharCode goes through its iterator: slow.
        let out = "";
        for (let i = ptr; i < ptr + len; i++) out += String.fromCharCode(bytes[i]);
        return out;
      }
    }
    return decoder.decode(bytes.subarray(ptr, ptr + len));
  }

  #putBytes(data: Uint8Array, align: number): number {
    const ptr = this.#realloc(0, 0, align, data.length);
    this.#refresh();
    this.#checkRange(ptr, data.length, "cabi_realloc result");
    this.#bytes.set(data, ptr);
    return ptr;
  }

  #putString(s: string): number {
    // Short ASCII strings (topics, realities, ids) are written directly: TextEncoder costs
    // about a microsecond per call here.
    const n = s.length;
    if (n <= 256) {
      let ascii = true;
      for (let i = 0; i < n; i++) {
        if (s.charCodeAt(i) > 0x7f) {
          ascii = false;
          break;
        }
      }
      if (ascii) {
        const ptr = this.#realloc(0, 0, 1, n);
        this.#refresh();
        this.#checkRange(ptr, n, "cabi_realloc result");
        const bytes = this.#bytes;
        for (let i = 0; i < n; i++) bytes[ptr + i] = s.charCodeAt(i);
        this.#len = n;
        return ptr;
      }
    }
    const data = encoder.encode(s);
    this.#len = data.length;
    return this.#putBytes(data, 1);
  }

  /** Runs `fn` with the fuel budget, classifying any failure and killing the instance. */
  #metered<T>(budget: bigint, fn: () => T): T {
    if (!this.alive) {
      throw new SandboxTrapError("trap", "the instance was discarded after a failure");
    }
    this.#fuel.value = this.#lastBudget = budget;
    this.#growRefused.value = 0;
    this.#logs = 0;
    try {
      return fn();
    } catch (e) {
      this.alive = false;
      throw this.#classify(e);
    }
  }

  #classify(e: unknown): SandboxTrapError {
    if (e instanceof SandboxTrapError) return e;
    const message = describeTrap(e);
    let kind: TrapKind = "trap";
    if ((this.#fuel.value as bigint) < 0n) kind = "fuel_exhausted";
    else if (e instanceof RangeError && /call stack/i.test(message)) kind = "stack_overflow";
    else if (this.#growRefused.value === 1) kind = "memory_cap";
    const text = kind === "fuel_exhausted"
      ? `fuel exhausted (budget ${this.#limits.fuelPerCall})`
      : kind === "memory_cap"
      ? `memory cap of ${this.#limits.memoryPages} pages reached (${message})`
      : kind === "stack_overflow"
      ? "stack overflow (recursion too deep)"
      : `trap: ${message}`;
    return new SandboxTrapError(kind, text);
  }

  /** Runs the guest's `configure`; throws ComponentRejectedError with its error message. */
  configure(config: string): void {
    const budget = this.#fuelBudget * BigInt(SETUP_FUEL_FACTOR);
    let error: string | null = null;
    try {
      this.#metered(budget, () => {
        const p = this.#putString(config);
        const ret = this.#configure(p, this.#len);
        this.#refresh();
        this.#checkRange(ret, 12, "configure result");
        const disc = this.#bytes[ret];
        if (disc === 1) {
          const sp = this.#view.getUint32(ret + 4, true);
          const sl = this.#view.getUint32(ret + 8, true);
          error = this.#readString(sp, Math.min(sl, MAX_REASON_BYTES), "configure error");
        } else if (disc !== 0) {
          throw new SandboxTrapError("bad_result", `configure returned discriminant ${disc}`);
        }
        this.#postConfigure?.(ret);
      });
    } catch (e) {
      const detail = e instanceof Error ? e.message : String(e);
      throw new ComponentRejectedError("configure_failed", `configure failed: ${detail}`);
    }
    if (error !== null) {
      this.alive = false;
      throw new ComponentRejectedError(
        "configure_failed",
        `configure rejected the configuration: ${error}`,
      );
    }
  }

  /** Evaluates one pulse. Throws {@linkcode SandboxTrapError} on any failure. */
  evaluate(input: PolicyInput): PolicyVerdict {
    if (!this.alive) {
      throw new SandboxTrapError("trap", "the instance was discarded after a failure");
    }
    this.#seed = input.entropySeed;
    this.#seeded = false;
    this.#wallMs = input.wallMs;
    this.#logical = input.logical;
    // The hot path, written out (no closure, no tuples): this runs for every pulse.
    this.#fuel.value = this.#lastBudget = this.#fuelBudget;
    this.#growRefused.value = 0;
    this.#logs = 0;
    try {
      const rp = this.#putString(input.reality);
      const rl = this.#len;
      const tp = this.#putString(input.topic);
      const tl = this.#len;
      const pp = this.#putString(input.producer);
      const pl = this.#len;
      const headers = input.headers;
      const n = headers.length;
      let hp = 0;
      if (n > 0) {
        const pairs = new Array<number>(n * 4);
        for (let i = 0; i < n; i++) {
          pairs[i * 4] = this.#putString(headers[i][0]);
          pairs[i * 4 + 1] = this.#len;
          pairs[i * 4 + 2] = this.#putString(headers[i][1]);
          pairs[i * 4 + 3] = this.#len;
        }
        hp = this.#realloc(0, 0, 4, n * 16);
        this.#refresh();
        this.#checkRange(hp, n * 16, "cabi_realloc result");
        for (let i = 0; i < n * 4; i++) this.#view.setUint32(hp + i * 4, pairs[i], true);
      }
      const cp = this.#putString(input.contentType);
      const cl = this.#len;
      const payloadPtr = this.#putBytes(input.payload, 1);
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
      this.alive = false;
      throw this.#classify(e);
    }
  }

  #readVerdict(ret: number): PolicyVerdict {
    this.#refresh();
    this.#checkRange(ret, 20, "verdict");
    const disc = this.#bytes[ret];
    const u32 = (o: number) => this.#view.getUint32(ret + o, true);
    if (disc === 0) return { kind: "allow" };
    if (disc === 1) {
      return {
        kind: "deny",
        reason: this.#readString(u32(4), Math.min(u32(8), MAX_REASON_BYTES), "deny reason"),
      };
    }
    if (disc === 2) {
      const p = u32(4);
      const l = u32(8);
      this.#checkRange(p, l, "redacted payload");
      return {
        kind: "redact",
        payload: this.#bytes.slice(p, p + l),
        reason: this.#readString(u32(12), Math.min(u32(16), MAX_REASON_BYTES), "redact reason"),
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

function describeTrap(e: unknown): string {
  if (e instanceof SandboxTrapError) return e.message;
  if (e instanceof Error) return e.message;
  return String(e);
}

async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as BufferSource));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

const cache = new Map<string, Promise<PolicyModule>>();
const CACHE_LIMIT = 64;

/** Options of {@linkcode loadPolicyModule}. */
export interface LoadOptions {
  /**
   * Instrument in a background worker (what a node does: uploads then never stall the
   * event loop). Default: in this thread.
   */
  worker?: boolean;
}

let sharedInstrumenter: WorkerInstrumenter | undefined;

/**
 * Checks, instruments and compiles a policy component; cached by content hash and limits.
 * Throws {@linkcode ComponentRejectedError} naming what is wrong.
 */
export async function loadPolicyModule(
  component: Uint8Array,
  limits: SandboxLimits = DEFAULT_LIMITS,
  options: LoadOptions = {},
): Promise<PolicyModule> {
  const digest = await sha256Hex(component);
  const key = `${digest}:${limits.fuelPerCall}:${limits.memoryPages}`;
  let entry = cache.get(key);
  if (!entry) {
    entry = preparePolicyModule(digest, component, limits, options);
    cache.set(key, entry);
    entry.catch(() => cache.delete(key));
    if (cache.size > CACHE_LIMIT) cache.delete(cache.keys().next().value!);
  }
  return await entry;
}

/**
 * Checks a policy's core module against the adapter's signatures, injects fuel metering and
 * caps its memory: the bytes the sandbox instantiates. Throws
 * {@linkcode ComponentRejectedError}.
 */
export async function instrumentPolicyCore(
  core: Uint8Array,
  limits: SandboxLimits = DEFAULT_LIMITS,
): Promise<Uint8Array> {
  // Binaryen (a large Wasm build) loads only when a policy does.
  const { checkInterface, meterFuel, readModule } = await import("./instrument.ts");
  let mod: ReturnType<typeof readModule>;
  try {
    mod = readModule(core);
  } catch (e) {
    throw new ComponentRejectedError(
      "bad_core_module",
      `binaryen cannot read the core module: ${describeTrap(e)}`,
    );
  }
  try {
    checkInterface(mod);
  } catch (e) {
    mod.dispose();
    throw e;
  }
  const metered = meterFuel(
    mod,
    BigInt(limits.fuelPerCall) * BigInt(SETUP_FUEL_FACTOR),
    limits.memoryPages,
  );
  return capMemory(metered.bytes, limits.memoryPages).bytes;
}

async function preparePolicyModule(
  digest: string,
  component: Uint8Array,
  limits: SandboxLimits,
  options: LoadOptions,
): Promise<PolicyModule> {
  const core = await extractPolicyCore(component);
  let instrumented: Uint8Array;
  try {
    instrumented = options.worker
      ? await (sharedInstrumenter ??= new WorkerInstrumenter()).instrument(core, limits)
      : await instrumentPolicyCore(core, limits);
  } catch (e) {
    if (e instanceof ComponentRejectedError) throw e;
    // Whatever else goes wrong while rewriting a hostile module is still a refusal.
    throw new ComponentRejectedError("bad_core_module", `cannot instrument: ${describeTrap(e)}`);
  }
  let module: WebAssembly.Module;
  try {
    module = await WebAssembly.compile(instrumented as BufferSource);
  } catch (e) {
    throw new ComponentRejectedError(
      "bad_core_module",
      `the instrumented module does not compile: ${describeTrap(e)}`,
    );
  }
  return new PolicyModule(digest, module, limits);
}
