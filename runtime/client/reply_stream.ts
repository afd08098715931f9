/**
 * The replies of a streamed request as an async iterator: each `Reply` frame carrying the
 * request's correlation id is queued until read; the one marked final ends the iteration
 * after it is yielded; an error frame (timeout between replies, a stream bound, a
 * responder's typed error, a lost connection) is thrown by the next read.
 * @module
 */
import type { BusError, IPulse } from "../protocol/mod.ts";

/** An open streamed request, read with `for await`. */
export class ReplyStream implements AsyncIterableIterator<IPulse> {
  readonly #queue: IPulse[] = [];
  #waiter: { resolve: (r: IteratorResult<IPulse>) => void; reject: (e: Error) => void } | null =
    null;
  #ended = false;
  #error: BusError | null = null;
  readonly #release: () => void;

  /** `release` forgets the request on the client (called once it ends or is left). */
  constructor(release: () => void) {
    this.#release = release;
  }

  /** Whether the stream has ended (final reply received, failed or left). */
  get ended(): boolean {
    return this.#ended;
  }

  /** A reply arrived; `final` ends the stream once it is read. */
  push(pulse: IPulse, final: boolean): void {
    if (this.#ended) return;
    if (final) this.#end();
    if (this.#waiter) {
      const w = this.#waiter;
      this.#waiter = null;
      w.resolve({ value: pulse, done: false });
    } else {
      this.#queue.push(pulse);
    }
  }

  /** The request failed: replies already queued are still read, then `error` is thrown. */
  fail(error: BusError): void {
    if (this.#ended) return;
    this.#error = error;
    this.#end();
    if (this.#waiter) {
      const w = this.#waiter;
      this.#waiter = null;
      w.reject(error);
    }
  }

  #end(): void {
    this.#ended = true;
    this.#release();
  }

  /** The next reply (queued first). */
  next(): Promise<IteratorResult<IPulse>> {
    const queued = this.#queue.shift();
    if (queued !== undefined) return Promise.resolve({ value: queued, done: false });
    if (this.#error) {
      const e = this.#error;
      this.#error = null;
      return Promise.reject(e);
    }
    if (this.#ended) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => this.#waiter = { resolve, reject });
  }

  /**
   * Leaves the stream (a `break` out of `for await`): later replies are dropped by the
   * client; the node ends the request at its final reply or its timeout.
   */
  return(): Promise<IteratorResult<IPulse>> {
    if (!this.#ended) this.#end();
    this.#queue.length = 0;
    this.#error = null;
    return Promise.resolve({ value: undefined, done: true });
  }

  /** Itself. */
  [Symbol.asyncIterator](): AsyncIterableIterator<IPulse> {
    return this;
  }
}
