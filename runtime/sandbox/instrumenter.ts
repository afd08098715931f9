/**
 * Runs instrumentation in a Worker, so a large upload does not stall the message path and a
 * Binaryen crash on a hostile module cannot take the node's copy of Binaryen down. The worker
 * lives while jobs are queued and is closed when idle; {@linkcode WorkerInstrumenter.close}
 * ends it at once.
 * @module
 */
import { BusError } from "../protocol/mod.ts";
import { ComponentRejectedError, type RejectCode } from "./errors.ts";
import type { SandboxLimits } from "./limits.ts";
import type { WorldSpec } from "./world.ts";

type Reply = { id: number; bytes?: Uint8Array; error?: { code: RejectCode; message: string } };

/** Instruments core modules in a background worker, one at a time. */
export class WorkerInstrumenter {
  #worker: Worker | null = null;
  #nextId = 1;
  #closed = false;
  readonly #pending = new Map<
    number,
    { resolve: (b: Uint8Array) => void; reject: (e: Error) => void }
  >();

  #spawn(): Worker {
    const worker = new Worker(new URL("./instrument_worker.ts", import.meta.url), {
      type: "module",
    });
    worker.onmessage = (e: MessageEvent<Reply>) => {
      const job = this.#pending.get(e.data.id);
      if (!job) return;
      this.#pending.delete(e.data.id);
      if (e.data.bytes) job.resolve(e.data.bytes);
      else job.reject(new ComponentRejectedError(e.data.error!.code, e.data.error!.message));
      this.#closeIfIdle();
    };
    worker.onerror = (e: ErrorEvent) => {
      e.preventDefault();
      this.#fail(
        new ComponentRejectedError("bad_core_module", `instrumentation crashed: ${e.message}`),
      );
    };
    return worker;
  }

  #fail(error: Error): void {
    const jobs = [...this.#pending.values()];
    this.#pending.clear();
    this.#worker?.terminate();
    this.#worker = null;
    for (const job of jobs) job.reject(error);
  }

  #closeIfIdle(): void {
    if (this.#pending.size === 0 && this.#worker) {
      this.#worker.terminate();
      this.#worker = null;
    }
  }

  /** The instrumented bytes of `core` (see `instrumentCore`). */
  instrument(core: Uint8Array, world: WorldSpec, limits: SandboxLimits): Promise<Uint8Array> {
    if (this.#closed) return Promise.reject(closedError());
    const id = this.#nextId++;
    const worker = this.#worker ??= this.#spawn();
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      worker.postMessage({ id, core, world, limits: { ...limits } });
    });
  }

  /** Terminates the worker; queued jobs and later calls fail with `SHUTTING_DOWN`. */
  close(): void {
    this.#closed = true;
    this.#fail(closedError());
  }
}

function closedError(): BusError {
  return new BusError("SHUTTING_DOWN", "the sandbox engine is closed");
}
