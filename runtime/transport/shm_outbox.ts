/**
 * Outbound frames of one shm endpoint that are not in the ring yet. Frames sent within
 * one synchronous run are flushed together from a microtask (one FFI call per ~64 KB);
 * when the ring is full they wait here and `bytes` reports them as buffered, which is how
 * back-pressure reaches the sender.
 * @module
 */
import type { ShmEndpoint } from "./shm.ts";

/** Frames waiting for ring space, flushed in batches. */
export class ShmOutbox {
  readonly #ep: ShmEndpoint;
  readonly #onError: (err: unknown) => void;
  #overflow: Uint8Array[] = [];
  #overflowBytes = 0;
  #queued = false;

  /** `onError` runs when a flush finds the connection closed. */
  constructor(ep: ShmEndpoint, onError: (err: unknown) => void) {
    this.#ep = ep;
    this.#onError = onError;
  }

  /** Bytes accepted but not yet in the ring. */
  get bytes(): number {
    return this.#ep.open ? this.#ep.pendingBytes + this.#overflowBytes : 0;
  }

  /** Queues a frame and schedules a flush at the end of the current run. */
  push(frame: Uint8Array): void {
    try {
      if (this.#overflow.length > 0 || !this.#ep.enqueue(frame)) {
        this.#overflow.push(frame);
        this.#overflowBytes += frame.length;
      }
    } catch (err) {
      this.#onError(err);
      return;
    }
    if (!this.#queued) {
      this.#queued = true;
      queueMicrotask(() => {
        this.#queued = false;
        this.flush();
      });
    }
  }

  /** Moves queued frames into the ring; true while some still wait for space. */
  flush(): boolean {
    if (!this.#ep.open) return false;
    try {
      for (;;) {
        if (this.#ep.flush() > 0) return true;
        if (this.#overflow.length === 0) return false;
        let i = 0;
        while (i < this.#overflow.length && this.#ep.enqueue(this.#overflow[i])) {
          this.#overflowBytes -= this.#overflow[i].length;
          i++;
        }
        this.#overflow.splice(0, i);
        if (i === 0) return true;
      }
    } catch (err) {
      this.#onError(err);
      return false;
    }
  }

  /** Drops everything queued. */
  clear(): void {
    this.#overflow = [];
    this.#overflowBytes = 0;
  }
}
