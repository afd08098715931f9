/**
 * The raw TCP wire: each protobuf `Frame` preceded by its length as a 4-byte big-endian
 * unsigned integer. The parser turns bytes as they arrive into whole frames and knows
 * nothing of connections, so the node, the client and tests share it.
 * @module
 */
import type { FrameHead } from "../outbound.ts";

/** Bytes of the length prefix. */
export const LENGTH_BYTES = 4;

// A frame announced larger than what arrived gets a buffer of FIRST_BODY_GROWTH times
// what arrived (at least FIRST_BODY_BYTES), doubling as its bytes come: a prefix alone
// (which may lie) allocates little, while a client's 256 KiB batch arriving in 64 KiB
// reads gets its whole buffer at once (doubling from 4 KiB copied it six times).
const FIRST_BODY_BYTES = 4 * 1024;
const FIRST_BODY_GROWTH = 8;
const EMPTY = new Uint8Array(0);

/** A length prefix above the frame limit: the stream cannot be resynchronized. */
export class FrameTooLargeError extends Error {
  /** The announced length. */
  readonly length: number;
  /** The limit it is over. */
  readonly max: number;

  /** An announced `length` over `max`. */
  constructor(length: number, max: number) {
    super(`frame of ${length} bytes exceeds the limit of ${max}`);
    this.name = "FrameTooLargeError";
    this.length = length;
    this.max = max;
  }
}

/** The length prefix as an outbound queue's frame head (the tag is unused). */
export const LENGTH_PREFIX: FrameHead = {
  length: () => LENGTH_BYTES,
  write(buf: Uint8Array, at: number, _tag: number, bodyLength: number): number {
    buf[at] = bodyLength >>> 24;
    buf[at + 1] = (bodyLength >>> 16) & 0xff;
    buf[at + 2] = (bodyLength >>> 8) & 0xff;
    buf[at + 3] = bodyLength & 0xff;
    return at + LENGTH_BYTES;
  },
};

/**
 * One frame with its length prefix, ready to write.
 *
 * @example
 * ```ts
 * import { lengthPrefixed } from "./framer.ts";
 *
 * lengthPrefixed(new Uint8Array([1, 2, 3])); // Uint8Array [0, 0, 0, 3, 1, 2, 3]
 * ```
 */
export function lengthPrefixed(frame: Uint8Array): Uint8Array {
  const out = new Uint8Array(LENGTH_BYTES + frame.length);
  out.set(frame, LENGTH_PREFIX.write(out, 0, 0, frame.length));
  return out;
}

/**
 * Splits a byte stream into length-prefixed frames. Frames are copies, exactly sized:
 * the caller may reuse the chunks it pushes and keep the frames.
 *
 * @example
 * ```ts
 * import { FrameParser, lengthPrefixed } from "./framer.ts";
 *
 * const parser = new FrameParser(1024);
 * const wire = lengthPrefixed(new Uint8Array([7, 8]));
 * parser.push(wire.subarray(0, 3)); // []: the prefix is not whole yet
 * parser.push(wire.subarray(3)); // [Uint8Array [7, 8]]
 * ```
 */
export class FrameParser {
  /** Largest frame accepted, prefix excluded. */
  readonly maxFrameBytes: number;
  readonly #head = new Uint8Array(LENGTH_BYTES);
  #headHave = 0;
  // The frame being collected (its prefix read), or null between frames.
  #body: Uint8Array | null = null;
  #bodyHave = 0;
  #bodyLength = 0;

  /** A parser refusing frames over `maxFrameBytes`. */
  constructor(maxFrameBytes: number) {
    this.maxFrameBytes = maxFrameBytes;
  }

  /** Bytes of an unfinished frame held (prefix bytes included); 0 between frames. */
  get pending(): number {
    return this.#body === null ? this.#headHave : LENGTH_BYTES + this.#bodyHave;
  }

  /**
   * The frames `chunk` completes, in order. Throws `FrameTooLargeError` at a prefix over
   * the limit (frames before it in the chunk are lost with the stream).
   */
  push(chunk: Uint8Array): Uint8Array[] {
    const frames: Uint8Array[] = [];
    let pos = 0;
    const end = chunk.length;
    while (pos < end) {
      if (this.#body === null) {
        let length: number;
        if (this.#headHave === 0 && end - pos >= LENGTH_BYTES) {
          length = readLength(chunk, pos);
          pos += LENGTH_BYTES;
        } else {
          const take = Math.min(LENGTH_BYTES - this.#headHave, end - pos);
          this.#head.set(chunk.subarray(pos, pos + take), this.#headHave);
          this.#headHave += take;
          pos += take;
          if (this.#headHave < LENGTH_BYTES) break;
          this.#headHave = 0;
          length = readLength(this.#head, 0);
        }
        if (length > this.maxFrameBytes) throw new FrameTooLargeError(length, this.maxFrameBytes);
        if (end - pos >= length) {
          // The common case: the whole frame is in this chunk.
          frames.push(length === 0 ? EMPTY : chunk.slice(pos, pos + length));
          pos += length;
          continue;
        }
        this.#bodyLength = length;
        this.#bodyHave = 0;
        this.#body = new Uint8Array(
          Math.min(length, Math.max(FIRST_BODY_BYTES, FIRST_BODY_GROWTH * (end - pos))),
        );
      }
      const body: Uint8Array = this.#body;
      const take = Math.min(this.#bodyLength - this.#bodyHave, end - pos);
      let into = body;
      if (this.#bodyHave + take > body.length) {
        into = new Uint8Array(
          Math.min(this.#bodyLength, Math.max(2 * body.length, this.#bodyHave + take)),
        );
        into.set(body.subarray(0, this.#bodyHave));
        this.#body = into;
      }
      into.set(chunk.subarray(pos, pos + take), this.#bodyHave);
      this.#bodyHave += take;
      pos += take;
      if (this.#bodyHave === this.#bodyLength) {
        frames.push(into);
        this.#body = null;
        this.#bodyHave = 0;
      }
    }
    return frames;
  }

  /** Forgets an unfinished frame (the connection ended). */
  reset(): void {
    this.#body = null;
    this.#bodyHave = 0;
    this.#headHave = 0;
  }
}

function readLength(buf: Uint8Array, at: number): number {
  return ((buf[at] << 24) >>> 0) + (buf[at + 1] << 16) + (buf[at + 2] << 8) + buf[at + 3];
}
