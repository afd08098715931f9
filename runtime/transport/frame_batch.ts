/**
 * The packed batch format of the native ABI: frames back to back as
 * `[u32 little-endian length][bytes]`. One batch is at most `BATCH_BYTES`, so each FFI call
 * moves up to ~64 KB and the per-call cost is spread over many frames.
 * @module
 */

/** Bytes of one packed batch buffer (one FFI call). */
export const BATCH_BYTES = 64 * 1024;

/**
 * A reusable buffer that frames are packed into. Append until `add` returns false, hand
 * `bytes()` to a send call, then `consume(n)` what the call took.
 */
export class PackedBatch {
  /** Backing buffer, allocated once. */
  readonly buffer: Uint8Array<ArrayBuffer>;
  #view: DataView;
  #end = 0;
  #start = 0;
  #frames = 0;

  /** Allocates a batch of `capacity` bytes. */
  constructor(capacity = BATCH_BYTES) {
    this.buffer = new Uint8Array(capacity);
    this.#view = new DataView(this.buffer.buffer);
  }

  /** Packed bytes not yet consumed. */
  get length(): number {
    return this.#end - this.#start;
  }

  /** Frames added since the buffer was last empty (an upper bound after partial sends). */
  get frames(): number {
    return this.#frames;
  }

  /** Appends one frame; false when it does not fit (send first). */
  add(frame: Uint8Array): boolean {
    if (this.#end + 4 + frame.length > this.buffer.length) {
      this.#compact();
      if (this.#end + 4 + frame.length > this.buffer.length) return false;
    }
    this.#view.setUint32(this.#end, frame.length, true);
    this.buffer.set(frame, this.#end + 4);
    this.#end += 4 + frame.length;
    this.#frames++;
    return true;
  }

  /** The unconsumed packed bytes (a view, valid until the next `add`). */
  bytes(): Uint8Array<ArrayBuffer> {
    return this.buffer.subarray(this.#start, this.#end);
  }

  /** Marks `n` bytes (whole frames) as sent; returns how many frames that was. */
  consume(n: number): number {
    const stop = this.#start + n;
    let frames = 0;
    for (let off = this.#start; off < stop; off += 4 + this.#view.getUint32(off, true)) frames++;
    this.#start = stop;
    if (this.#start >= this.#end) this.clear();
    return frames;
  }

  /** Drops everything. */
  clear(): void {
    this.#start = this.#end = this.#frames = 0;
  }

  #compact(): void {
    if (this.#start === 0) return;
    this.buffer.copyWithin(0, this.#start, this.#end);
    this.#end -= this.#start;
    this.#start = 0;
  }
}

/**
 * Calls `onFrame` for each frame in `buf[0..length]` with a view into `buf` (copy it if it
 * must outlive the next receive). Returns the number of frames.
 */
export function forEachFrame(
  buf: Uint8Array,
  length: number,
  onFrame: (frame: Uint8Array<ArrayBuffer>) => void,
): number {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let off = 0;
  let n = 0;
  while (off + 4 <= length) {
    const len = view.getUint32(off, true);
    if (off + 4 + len > length) throw new Error(`packed batch truncated at ${off}`);
    onFrame(buf.subarray(off + 4, off + 4 + len) as Uint8Array<ArrayBuffer>);
    off += 4 + len;
    n++;
  }
  return n;
}
