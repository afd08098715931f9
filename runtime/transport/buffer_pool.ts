/**
 * A pool of equally sized read buffers shared by the connections of a carrier (WebSocket, TCP) of the
 * process. A connection takes one only for a read it expects to be large (the last read
 * filled its buffer, or a partial frame waits for its rest) and gives it back as soon as
 * the frames in it are parsed, so an idle connection holds none.
 * @module
 */

/** Equally sized buffers, reused; at most `maxFree` of them kept while unused. */
export class BufferPool {
  /** Bytes of each buffer. */
  readonly size: number;
  readonly #maxFree: number;
  readonly #free: Uint8Array[] = [];
  #taken = 0;

  /**
   * @param size bytes of each buffer
   * @param maxFree buffers kept for reuse while unused; more given back are left to the GC
   */
  constructor(size: number, maxFree: number) {
    this.size = size;
    this.#maxFree = maxFree;
  }

  /** A buffer of `size` bytes, reused when one is free (its contents are stale). */
  take(): Uint8Array {
    this.#taken++;
    return this.#free.pop() ?? new Uint8Array(this.size);
  }

  /** Gives back a buffer from `take`; the caller must not use it any more. */
  give(buf: Uint8Array): void {
    this.#taken--;
    if (this.#free.length < this.#maxFree) this.#free.push(buf);
  }

  /** Buffers taken and not given back (in use). */
  get taken(): number {
    return this.#taken;
  }

  /** Buffers kept for reuse. */
  get free(): number {
    return this.#free.length;
  }
}
