/**
 * The node's side of an operator's Worker: start it, send batches, await their outcomes.
 * @module
 */
import type { GuestLogger } from "../runtime/sandbox/mod.ts";
import {
  decodeOutcomes,
  encodeBatch,
  type EncodedInput,
  type FromWorker,
  type PulseOutcome,
  type StartMessage,
} from "./worker_protocol.ts";
import type { ControlStep } from "./control_feed.ts";

/** One operator's Worker. */
export class OperatorWorker {
  readonly #worker: Worker;
  readonly #pending = new Map<number, (o: PulseOutcome[]) => void>();
  #started?: { resolve: () => void; reject: (e: Error) => void };
  #nextId = 1;
  #dead: Error | null = null;
  readonly #ready: Promise<void>;
  #onReady: () => void = () => {};

  /**
   * Spawns the worker; `logger` receives the guest's `log` lines, `onControlFailure` each
   * failed `on-control` call.
   */
  constructor(logger: GuestLogger, onControlFailure: (message: string) => void = () => {}) {
    this.#ready = new Promise((resolve) => this.#onReady = resolve);
    this.#worker = new Worker(new URL("./worker.ts", import.meta.url), { type: "module" });
    this.#worker.onmessage = (event: MessageEvent<FromWorker>) => {
      const m = event.data;
      if (m.type === "results") {
        this.#pending.get(m.id)?.(decodeOutcomes(m.packed));
        this.#pending.delete(m.id);
      } else if (m.type === "log") {
        logger(m.level as Parameters<GuestLogger>[0], m.message);
      } else if (m.type === "control-failed") onControlFailure(m.message);
      else if (m.type === "ready") this.#onReady();
      else if (m.type === "started") this.#started?.resolve();
      else this.#started?.reject(new Error(m.message));
    };
    this.#worker.onerror = (event) => {
      event.preventDefault();
      this.#die(new Error(`operator worker crashed: ${event.message}`));
    };
  }

  #die(error: Error): void {
    this.#dead = error;
    this.#started?.reject(error);
    // Batches in flight fail as a whole: every pulse of them counts as failed.
    for (const [, resolve] of this.#pending) {
      resolve([{ ok: false, kind: "trap", message: error.message, ms: 0 }]);
    }
    this.#pending.clear();
  }

  /** Whether the worker crashed or was stopped. */
  get dead(): boolean {
    return this.#dead !== null;
  }

  /** Loads and initialises the operator; rejects with why it cannot run. */
  async start(message: Omit<StartMessage, "type">): Promise<void> {
    const started = new Promise<void>((resolve, reject) => {
      this.#started = { resolve, reject };
    });
    await Promise.race([this.#ready, started]);
    if (this.#dead) throw this.#dead;
    this.#worker.postMessage({ type: "start", ...message });
    await started;
  }

  /**
   * Handles `pulses` (their encodings) in order, with `controls` between them; one outcome
   * per pulse (fewer only when the worker died).
   */
  handle(pulses: readonly EncodedInput[], controls?: ControlStep[]): Promise<PulseOutcome[]> {
    if (this.#dead) {
      return Promise.resolve([{ ok: false, kind: "trap", message: this.#dead.message, ms: 0 }]);
    }
    const id = this.#nextId++;
    return new Promise((resolve) => {
      this.#pending.set(id, resolve);
      const packed = encodeBatch(pulses);
      this.#worker.postMessage({ type: "batch", id, packed, controls }, [packed]);
    });
  }

  /** Replaces the state the operator runs over from the next batch on (a fresh instance). */
  reset(state: [string, Uint8Array][]): void {
    if (this.#dead) return;
    this.#worker.postMessage({ type: "reset", state });
  }

  /** Terminates the worker (batches in flight resolve as failed). */
  stop(): void {
    if (this.#dead) return;
    this.#worker.terminate();
    this.#die(new Error("operator stopped"));
  }
}
