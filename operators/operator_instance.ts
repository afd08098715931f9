/**
 * The thin host adapter of world `arqon:bus/operator` on a sandbox instance: the host
 * imports (`log`, `random-u64`, `logical-time`, `state-get`, `state-set`, `state-delete`),
 * `init`, `on-control`, and `handle` with the pulse written into guest memory and the output
 * pulses read back. jco's generated glue is avoided: this runs for every input pulse.
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
import { STATE_MODULE } from "../wit/mod.ts";
import type { OperatorState } from "./state.ts";
import { f64Bytes, readSpectral, writeSpectral } from "./spectral_abi.ts";
import {
  OPERATOR_STATE_SIGNATURES,
  type OperatorPulse,
  PULSE_RECORD_SIZE,
  PULSE_SPECTRAL_OFFSET,
} from "./world.ts";

const MAX_ERROR_BYTES = 1024;
const MAX_KEY_BYTES = 1024;

/** Per-call bounds on what `handle` returns. */
export interface OutputLimits {
  /** Most pulses one `handle` call may return. */
  maxOutputs: number;
  /** Most payload bytes of one output pulse. */
  maxOutputBytes: number;
}

type Exported = {
  handle: (pulse: number) => number;
  init: (p: number, l: number) => number;
  "on-control": (p: number, l: number) => number;
  cabi_post_handle?: (p: number) => void;
  cabi_post_init?: (p: number) => void;
  "cabi_post_on-control"?: (p: number) => void;
};

/** One live operator instance; after any failure it is dead and must be replaced. */
export class OperatorInstance {
  readonly #inst: Instance;
  readonly #ex: Exported;
  readonly #fuelBudget: bigint;
  readonly #host: HostInterface;
  readonly #state: OperatorState;
  #lastKey = "";
  #lastKeyBytes = new Uint8Array(0);

  /**
   * Instantiates `module` (checked against `OPERATOR_WORLD`) with the operator host imports
   * over `state`. Throws {@linkcode ComponentRejectedError} when its start function fails.
   */
  constructor(module: Module, state: OperatorState, logger?: GuestLogger) {
    this.#state = state;
    this.#fuelBudget = BigInt(module.limits.fuelPerCall);
    this.#host = new HostInterface(logger);
    const host: HostImports = {
      [HOST_MODULE]: this.#host.functions(),
      [STATE_MODULE]: {
        "state-get": {
          signature: OPERATOR_STATE_SIGNATURES["state-get"],
          fn: (kp: number, kl: number, retptr: number) => this.#stateGet(kp, kl, retptr),
        },
        "state-set": {
          signature: OPERATOR_STATE_SIGNATURES["state-set"],
          fn: (kp: number, kl: number, vp: number, vl: number, retptr: number) =>
            this.#stateSet(kp, kl, vp, vl, retptr),
        },
        "state-delete": {
          signature: OPERATOR_STATE_SIGNATURES["state-delete"],
          fn: (kp: number, kl: number) => this.#state.delete(this.#key(kp, kl)),
        },
      },
    };
    this.#inst = module.instantiate(host);
    this.#host.attach(this.#inst);
    this.#ex = this.#inst.exports as unknown as Exported;
  }

  /** False once a call failed: the instance's memory can no longer be trusted. */
  get alive(): boolean {
    return this.#inst.alive;
  }

  /** Fuel the last call used. */
  get lastFuelUsed(): number {
    return this.#inst.lastFuelUsed;
  }

  #key(ptr: number, len: number): string {
    if (len > MAX_KEY_BYTES) {
      throw new SandboxTrapError("bad_result", `state key over ${MAX_KEY_BYTES} bytes`);
    }
    const inst = this.#inst;
    inst.refresh();
    inst.checkRange(ptr, len, "state key");
    // An operator reads and writes the same few keys pulse after pulse: the last key's
    // bytes are compared before a string is decoded again.
    const last = this.#lastKeyBytes;
    const bytes = inst.bytes;
    if (len === last.length) {
      let same = true;
      for (let i = 0; i < len; i++) {
        if (bytes[ptr + i] !== last[i]) {
          same = false;
          break;
        }
      }
      if (same) return this.#lastKey;
    }
    const key = inst.readString(ptr, len, "state key");
    if (len <= 64) {
      this.#lastKeyBytes = bytes.slice(ptr, ptr + len);
      this.#lastKey = key;
    }
    return key;
  }

  #stateGet(kp: number, kl: number, retptr: number): void {
    const value = this.#state.get(this.#key(kp, kl));
    const inst = this.#inst;
    // Allocating may grow memory: write the value first, then the option at retptr.
    const vp = value === undefined ? 0 : inst.writeBytes(value, 1);
    inst.refresh();
    inst.checkRange(retptr, 12, "state-get result");
    inst.bytes[retptr] = value === undefined ? 0 : 1;
    inst.view.setUint32(retptr + 4, vp, true);
    inst.view.setUint32(retptr + 8, value?.length ?? 0, true);
  }

  #stateSet(kp: number, kl: number, vp: number, vl: number, retptr: number): void {
    const key = this.#key(kp, kl);
    const error = this.#state.set(key, this.#inst.readBytes(vp, vl, "state value"));
    const inst = this.#inst;
    const ep = error === null ? 0 : inst.writeString(error);
    const el = error === null ? 0 : inst.lastLength;
    inst.refresh();
    inst.checkRange(retptr, 12, "state-set result");
    inst.bytes[retptr] = error === null ? 0 : 1;
    inst.view.setUint32(retptr + 4, ep, true);
    inst.view.setUint32(retptr + 8, el, true);
  }

  /** Reads a `result<_, string>` at `ret`: null when ok, else the error text. */
  #readResult(ret: number, what: string): string | null {
    const inst = this.#inst;
    inst.refresh();
    inst.checkRange(ret, 12, `${what} result`);
    const disc = inst.bytes[ret];
    if (disc === 0) return null;
    if (disc !== 1) {
      throw new SandboxTrapError("bad_result", `${what} returned discriminant ${disc}`);
    }
    const sp = inst.view.getUint32(ret + 4, true);
    const sl = inst.view.getUint32(ret + 8, true);
    return inst.readString(sp, Math.min(sl, MAX_ERROR_BYTES), `${what} error`);
  }

  /**
   * Runs the guest's `init` with the operator's configuration (JSON text). Throws
   * {@linkcode ComponentRejectedError} (`configure_failed`) with its error or its trap.
   */
  init(config: string): void {
    const inst = this.#inst;
    let error: string | null;
    try {
      inst.begin(this.#fuelBudget * BigInt(SETUP_FUEL_FACTOR));
      this.#host.beginSetup();
      try {
        const ret = this.#ex.init(inst.writeString(config), inst.lastLength);
        error = this.#readResult(ret, "init");
        this.#ex.cabi_post_init?.(ret);
      } catch (e) {
        throw inst.fail(e);
      }
    } catch (e) {
      const detail = e instanceof Error ? e.message : String(e);
      throw new ComponentRejectedError("configure_failed", `init failed: ${detail}`);
    } finally {
      // `init` may not keep state writes: state belongs to pulses.
      this.#state.rollback();
    }
    if (error !== null) {
      inst.discard();
      throw new ComponentRejectedError(
        "configure_failed",
        `init rejected the configuration: ${error}`,
      );
    }
  }

  /**
   * Handles one pulse; returns the pulses to publish. State writes stay pending in the
   * `OperatorState` for the caller to commit or roll back. Throws
   * {@linkcode SandboxTrapError} on any failure (the instance is then discarded).
   */
  handle(input: OperatorPulse, limits: OutputLimits): OperatorPulse[] {
    const inst = this.#inst;
    inst.begin(this.#fuelBudget);
    this.#host.begin(input.entropySeed, input.wallMs, input.logical);
    try {
      // Every string and the header list in ONE guest block (one `cabi_realloc` call, not
      // one per string: the call into the guest costs more than the copy).
      const hn = input.headers.length;
      const block = inst.packContext(
        input.topic,
        input.reality,
        input.producer,
        input.contentType,
        input.headers,
      );
      const pa = inst.packedAt;
      const len = inst.packedLength;
      const tp = pa[0], tl = len[0], rp = pa[1], rl = len[1], pp = pa[2], pl = len[2];
      const cp = pa[3], cl = len[3];
      const hp = hn === 0 ? 0 : block;
      const payloadPtr = inst.writeBytes(input.payload, 1);
      const sp = input.spectral ?? null;
      const eigenPtr = sp && sp.eigenvalues.length > 0
        ? inst.writeBytes(f64Bytes(sp.eigenvalues), 8)
        : 0;
      // The record itself, last: allocations above may have grown (moved) the memory.
      const at = inst.alloc(PULSE_RECORD_SIZE, 8);
      const v = inst.view;
      const words = [tp, tl, rp, rl, pp, pl, hp, hn, cp, cl, payloadPtr];
      for (let i = 0; i < words.length; i++) v.setUint32(at + i * 4, words[i], true);
      v.setUint32(at + 44, input.payload.length, true);
      v.setBigUint64(at + 48, BigInt.asUintN(64, input.entropySeed), true);
      v.setBigUint64(at + 56, BigInt.asUintN(64, input.wallMs), true);
      v.setUint32(at + 64, input.logical, true);
      v.setUint32(at + 68, 0, true);
      writeSpectral(v, at + PULSE_SPECTRAL_OFFSET, sp, eigenPtr);
      const ret = this.#ex.handle(at);
      const outputs = this.#readOutputs(ret, limits);
      this.#ex.cabi_post_handle?.(ret);
      return outputs;
    } catch (e) {
      throw inst.fail(e);
    }
  }

  /** Runs `on-control` with parameter pairs; returns the guest's error, or null. */
  control(params: readonly (readonly [string, string])[]): string | null {
    const inst = this.#inst;
    inst.begin(this.#fuelBudget);
    this.#host.beginSetup();
    try {
      const ret = this.#ex["on-control"](this.#inst.writeStringPairs(params), params.length);
      const error = this.#readResult(ret, "on-control");
      this.#ex["cabi_post_on-control"]?.(ret);
      return error;
    } catch (e) {
      throw inst.fail(e);
    }
  }

  #readOutputs(ret: number, limits: OutputLimits): OperatorPulse[] {
    const inst = this.#inst;
    inst.refresh();
    inst.checkRange(ret, 8, "handle result");
    const view = inst.view;
    const base = view.getUint32(ret, true);
    const n = view.getUint32(ret + 4, true);
    if (n > limits.maxOutputs) {
      throw new SandboxTrapError(
        "bad_result",
        `handle returned ${n} pulses, more than the limit of ${limits.maxOutputs}`,
      );
    }
    inst.checkRange(base, n * PULSE_RECORD_SIZE, "output list");
    const out: OperatorPulse[] = new Array(n);
    const str = (at: number, what: string) =>
      inst.readString(view.getUint32(at, true), view.getUint32(at + 4, true), what);
    for (let i = 0; i < n; i++) {
      const at = base + i * PULSE_RECORD_SIZE;
      const hp = view.getUint32(at + 24, true);
      const hn = view.getUint32(at + 28, true);
      inst.checkRange(hp, hn * 16, "output headers");
      const headers: [string, string][] = new Array(hn);
      for (let j = 0; j < hn; j++) {
        headers[j] = [str(hp + j * 16, "header name"), str(hp + j * 16 + 8, "header value")];
      }
      const payloadLen = view.getUint32(at + 44, true);
      if (payloadLen > limits.maxOutputBytes) {
        throw new SandboxTrapError(
          "bad_result",
          `output ${i} has ${payloadLen} payload bytes, more than the limit of ${limits.maxOutputBytes}`,
        );
      }
      out[i] = {
        spectral: readSpectral(inst, at + PULSE_SPECTRAL_OFFSET, i),
        topic: str(at, "output topic"),
        reality: str(at + 8, "output reality"),
        producer: str(at + 16, "output producer"),
        headers,
        contentType: str(at + 32, "output content type"),
        payload: inst.readBytes(view.getUint32(at + 40, true), payloadLen, "output payload"),
        entropySeed: view.getBigUint64(at + 48, true),
        wallMs: view.getBigUint64(at + 56, true),
        logical: view.getUint32(at + 64, true),
      };
    }
    return out;
  }
}
