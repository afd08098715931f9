/**
 * A flat little-endian byte writer and reader: the packed format of the messages between the
 * node and an operator's Worker (operators/worker_protocol.ts defines their layout). One
 * `ArrayBuffer` per message is transferred, not cloned: no structured clone of objects,
 * `bigint`s and header arrays on either thread, and far less garbage.
 * @module
 */

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Appends values to a growing buffer. */
export class PackedWriter {
  #bytes: Uint8Array;
  #view: DataView;
  #at = 0;

  /** A writer with `capacity` bytes to start with (it grows as needed). @default 4096 */
  constructor(capacity = 4096) {
    this.#bytes = new Uint8Array(capacity);
    this.#view = new DataView(this.#bytes.buffer);
  }

  #room(n: number): void {
    if (this.#at + n <= this.#bytes.length) return;
    let size = this.#bytes.length * 2;
    while (size < this.#at + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.#bytes.subarray(0, this.#at));
    this.#bytes = next;
    this.#view = new DataView(next.buffer);
  }

  /** A byte. */
  u8(v: number): void {
    this.#room(1);
    this.#bytes[this.#at++] = v;
  }

  /** An unsigned 32-bit integer. */
  u32(v: number): void {
    this.#room(4);
    this.#view.setUint32(this.#at, v, true);
    this.#at += 4;
  }

  /** A double. */
  f64(v: number): void {
    this.#room(8);
    this.#view.setFloat64(this.#at, v, true);
    this.#at += 8;
  }

  /** A 64-bit integer (its two's complement bits: u64 and i64 both round-trip). */
  i64(v: bigint): void {
    this.#room(8);
    this.#view.setBigUint64(this.#at, BigInt.asUintN(64, v), true);
    this.#at += 8;
  }

  /** Bytes, length first. */
  bytes(v: Uint8Array): void {
    this.#room(4 + v.length);
    this.#view.setUint32(this.#at, v.length, true);
    this.#bytes.set(v, this.#at + 4);
    this.#at += 4 + v.length;
  }

  /** A string as UTF-8, length first. */
  str(v: string): void {
    // UTF-8 takes at most 3 bytes per UTF-16 unit.
    this.#room(4 + v.length * 3);
    const at = this.#at + 4;
    const bytes = this.#bytes;
    // ASCII (topics, header names, content types) byte by byte: short strings cost more
    // through the encoder's call than this loop.
    let i = 0;
    if (v.length <= 64) {
      for (; i < v.length; i++) {
        const c = v.charCodeAt(i);
        if (c >= 0x80) break;
        bytes[at + i] = c;
      }
    }
    const written = i === v.length ? i : encoder.encodeInto(v, bytes.subarray(at)).written;
    this.#view.setUint32(this.#at, written, true);
    this.#at = at + written;
  }

  /** The bytes written, in a buffer of their own (to transfer). */
  finish(): ArrayBuffer {
    return this.#bytes.buffer.slice(0, this.#at) as ArrayBuffer;
  }

  /**
   * Starts over, keeping the buffer: a writer reused message after message grows once to
   * its largest message instead of doubling its way up from the start every time. A buffer
   * grown past `keep` bytes (a batch of large outputs) is let go.
   */
  reset(keep = 1 << 20): void {
    this.#at = 0;
    if (this.#bytes.length > keep) {
      this.#bytes = new Uint8Array(4096);
      this.#view = new DataView(this.#bytes.buffer);
    }
  }
}

/**
 * Bytes a copying reader hands out are carved from shared slabs this large, not sliced into
 * an `ArrayBuffer` each: two backing stores per operator output (payload and encoding) were
 * the largest share of the node's garbage collection at full rate (bench:operators, main
 * thread profile: the collector 24% of its samples). A slab lives while any value cut from
 * it does, as the node's stamps do (runtime/protocol/wire_encode.ts, `stampSuffix`).
 */
const SLAB_BYTES = 64 * 1024;
/** Values larger than this get a buffer of their own. */
const SLAB_MAX_VALUE = 4 * 1024;
let slab = new Uint8Array(SLAB_BYTES);
let slabAt = 0;

function carve(from: Uint8Array, at: number, n: number): Uint8Array {
  if (n > SLAB_MAX_VALUE) return from.slice(at, at + n);
  if (slabAt + n > slab.length) {
    slab = new Uint8Array(SLAB_BYTES);
    slabAt = 0;
  }
  const out = slab.subarray(slabAt, slabAt + n);
  out.set(from.subarray(at, at + n));
  // 8-aligned starts: a Float64Array or DataView over a value stays cheap.
  slabAt = (slabAt + n + 7) & ~7;
  return out;
}

/** Strings read again and again (topics, content types, header names): the last per slot. */
class LastString {
  bytes = new Uint8Array(0);
  text = "";
}
/** Strings at most this long are remembered per slot. */
const INTERN_MAX = 64;
/** The remembered strings by slot (one table per thread: readers of any message share it). */
const interned: LastString[] = [];

/** Reads values in the order a {@linkcode PackedWriter} wrote them. */
export class PackedReader {
  readonly #bytes: Uint8Array;
  readonly #view: DataView;
  #at = 0;

  /** A reader over `buffer`; `copy` makes `bytes` return copies instead of views into it. */
  constructor(buffer: ArrayBuffer, readonly copy = false) {
    this.#bytes = new Uint8Array(buffer);
    this.#view = new DataView(buffer);
  }

  #take(n: number): number {
    const at = this.#at;
    if (at + n > this.#bytes.length) throw new RangeError("packed message truncated");
    this.#at = at + n;
    return at;
  }

  /** A byte. */
  u8(): number {
    return this.#bytes[this.#take(1)];
  }

  /** An unsigned 32-bit integer. */
  u32(): number {
    return this.#view.getUint32(this.#take(4), true);
  }

  /** A double. */
  f64(): number {
    return this.#view.getFloat64(this.#take(8), true);
  }

  /** A u64. */
  u64(): bigint {
    return this.#view.getBigUint64(this.#take(8), true);
  }

  /** An i64. */
  i64(): bigint {
    return this.#view.getBigInt64(this.#take(8), true);
  }

  /**
   * Bytes (a view into the message, or a copy when the reader copies: small ones are carved
   * from a shared slab, so they share a backing store with other values read).
   */
  bytes(): Uint8Array {
    const n = this.u32();
    const at = this.#take(n);
    return this.copy ? carve(this.#bytes, at, n) : this.#bytes.subarray(at, at + n);
  }

  /**
   * A string that repeats message after message (a topic, a content type, a header name):
   * when its bytes equal the last ones read in `slot`, the same string is returned without
   * decoding (and without a new string to collect).
   */
  strAt(slot: number): string {
    const last = interned[slot] ??= new LastString();
    const n = this.#view.getUint32(this.#at, true);
    if (n <= INTERN_MAX && n === last.bytes.length) {
      const at = this.#at + 4;
      if (at + n > this.#bytes.length) throw new RangeError("packed message truncated");
      const bytes = this.#bytes;
      const known = last.bytes;
      let same = true;
      for (let i = 0; i < n; i++) {
        if (bytes[at + i] !== known[i]) {
          same = false;
          break;
        }
      }
      if (same) {
        this.#at = at + n;
        return last.text;
      }
    }
    const start = this.#at + 4;
    const text = this.str();
    if (n <= INTERN_MAX) {
      last.bytes = this.#bytes.slice(start, start + n);
      last.text = text;
    }
    return text;
  }

  /** A string. */
  str(): string {
    const n = this.u32();
    if (n === 0) return "";
    const at = this.#take(n);
    const bytes = this.#bytes;
    if (n <= 64) {
      // Short ASCII without the decoder's call (see PackedWriter.str).
      let s = "";
      for (let i = at; i < at + n; i++) {
        const c = bytes[i];
        if (c >= 0x80) return decoder.decode(bytes.subarray(at, at + n));
        s += String.fromCharCode(c);
      }
      return s;
    }
    return decoder.decode(bytes.subarray(at, at + n));
  }

  /** Whether everything was read. */
  get done(): boolean {
    return this.#at === this.#bytes.length;
  }
}
