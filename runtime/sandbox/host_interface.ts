/**
 * The host interface every world of `arqon:bus` imports (`log`, `random-u64`,
 * `logical-time`): its core signatures and one implementation over an instance's memory,
 * which each world's adapter puts in its host-import table and re-seeds for every call.
 * @module
 */
import { HOST_MODULE } from "../../wit/mod.ts";
import type { Instance } from "./instance.ts";
import { PulseRandom, toBigInt } from "./random.ts";
import type { HostFunction, Signature } from "./world.ts";

/** Receives `log` calls of a guest. */
export type GuestLogger = (level: "debug" | "info" | "warn" | "error", message: string) => void;

/** Core signatures of the host interface's functions. */
export const HOST_SIGNATURES = {
  "log": { params: ["i32", "i32", "i32"], results: [] },
  "random-u64": { params: [], results: ["i64"] },
  "logical-time": { params: ["i32"], results: [] },
} as const satisfies Record<string, Signature>;

/** Core import module of the host interface. */
export { HOST_MODULE };

const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;
const MAX_LOG_BYTES = 4096;
const MAX_LOGS_PER_CALL = 16;

/**
 * The host interface of one instance: call {@linkcode attach} once the instance exists,
 * {@linkcode begin} before every guest call.
 */
export class HostInterface {
  readonly #rng = new PulseRandom();
  readonly #logger?: GuestLogger;
  #instance?: Instance;
  #wallMs: bigint | number = 0;
  #logical = 0;
  #logs = 0;

  /** An interface whose `log` goes to `logger` (dropped when none). */
  constructor(logger?: GuestLogger) {
    this.#logger = logger;
  }

  /** The instance whose memory the functions read and write. */
  attach(instance: Instance): void {
    this.#instance = instance;
  }

  /** Starts a call: the pulse's random seed and logical time; the log quota restarts. */
  begin(entropySeed: bigint | number, wallMs: bigint | number, logical: number): void {
    this.#rng.reset(entropySeed);
    this.#wallMs = wallMs;
    this.#logical = logical;
    this.#logs = 0;
  }

  /** Starts a call with no pulse (setup, control): only the log quota restarts. */
  beginSetup(): void {
    this.#logs = 0;
  }

  /** The functions, for the host-import table under `HOST_MODULE`. */
  functions(): Record<keyof typeof HOST_SIGNATURES, HostFunction> {
    return {
      "log": {
        signature: HOST_SIGNATURES["log"],
        fn: (level: number, ptr: number, len: number) => this.#log(level, ptr, len),
      },
      "random-u64": { signature: HOST_SIGNATURES["random-u64"], fn: () => this.#rng.next() },
      "logical-time": {
        signature: HOST_SIGNATURES["logical-time"],
        fn: (retptr: number) => this.#logicalTime(retptr),
      },
    };
  }

  #log(level: number, ptr: number, len: number): void {
    if (++this.#logs > MAX_LOGS_PER_CALL || !this.#logger) return;
    const inst = this.#instance!;
    inst.refresh();
    const text = inst.readString(ptr, Math.min(len, MAX_LOG_BYTES), "log message");
    this.#logger(LOG_LEVELS[level] ?? "info", text);
  }

  #logicalTime(retptr: number): void {
    const inst = this.#instance!;
    inst.refresh();
    inst.checkRange(retptr, 12, "logical-time result");
    inst.view.setBigUint64(retptr, BigInt.asUintN(64, toBigInt(this.#wallMs)), true);
    inst.view.setUint32(retptr + 8, this.#logical, true);
  }
}
