/**
 * RFC 6455 framing shared by the node's WebSocket server and the client's TCP WebSocket:
 * opcodes, frame headers, masking, the opening handshake's accept key and reading an
 * HTTP head off a raw connection.
 * @module
 */

import { BufferPool } from "../buffer_pool.ts";

/** Frame opcodes (RFC 6455 §5.2). */
export const OP = {
  continuation: 0x0,
  text: 0x1,
  binary: 0x2,
  close: 0x8,
  ping: 0x9,
  pong: 0xa,
} as const;

/** The GUID the accept key is derived with (RFC 6455 §1.3). */
const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** `Sec-WebSocket-Accept` for a `Sec-WebSocket-Key`. */
export async function acceptKey(key: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-1", encoder.encode(key + GUID));
  return btoa(String.fromCharCode(...new Uint8Array(digest)));
}

/** Bytes of an unmasked (server) frame header for a body of `size` bytes. */
export function headerLength(size: number): number {
  return size < 126 ? 2 : size < 65536 ? 4 : 10;
}

/**
 * Writes an unmasked frame header (FIN set) for a body of `size` bytes at `out[at]`;
 * returns the position after it.
 */
export function writeHeader(out: Uint8Array, at: number, opcode: number, size: number): number {
  out[at] = 0x80 | opcode;
  if (size < 126) {
    out[at + 1] = size;
    return at + 2;
  }
  if (size < 65536) {
    out[at + 1] = 126;
    out[at + 2] = size >> 8;
    out[at + 3] = size & 0xff;
    return at + 4;
  }
  out[at + 1] = 127;
  const hi = Math.floor(size / 2 ** 32);
  const lo = size >>> 0;
  out[at + 2] = hi >>> 24;
  out[at + 3] = (hi >>> 16) & 0xff;
  out[at + 4] = (hi >>> 8) & 0xff;
  out[at + 5] = hi & 0xff;
  out[at + 6] = lo >>> 24;
  out[at + 7] = (lo >>> 16) & 0xff;
  out[at + 8] = (lo >>> 8) & 0xff;
  out[at + 9] = lo & 0xff;
  return at + 10;
}

/**
 * XORs `body` in place with a masking key given as the four key bytes read as one
 * little-endian 32-bit number. Runs on whole 64-bit words from the first 8-byte boundary
 * on: V8's optimized code XORs `BigUint64Array` elements as machine words, twice the
 * bytes a step of 32-bit words (measured: 0.047 against 0.090 µs per KB, every received
 * publish's bytes pass here once).
 */
export function xorMask(body: Uint8Array, key: number): void {
  const n = body.length;
  // Bytes up to the first 8-byte boundary one at a time, then whole words with the key
  // rotated to where the boundary falls (twice: the key repeats every 4 bytes), then the
  // tail.
  let i = Math.min(n, (8 - (body.byteOffset & 7)) & 7);
  for (let k = 0; k < i; k++) body[k] ^= (key >>> ((k & 3) * 8)) & 0xff;
  const words = (n - i) >>> 3;
  if (words > 0) {
    const shift = (i & 3) * 8;
    const rotated = (shift === 0 ? key : (key >>> shift) | (key << (32 - shift))) >>> 0;
    const word = (BigInt(rotated) << 32n) | BigInt(rotated);
    const w = new BigUint64Array(body.buffer, body.byteOffset + i, words);
    for (let j = 0; j < words; j++) w[j] ^= word;
    i += words * 8;
  }
  for (; i < n; i++) body[i] ^= (key >>> ((i & 3) * 8)) & 0xff;
}

/** The body of a close frame: the status code, then the reason cut to fit 123 bytes. */
export function closeBody(code: number, reason: string): Uint8Array {
  const text = encoder.encode(reason).subarray(0, 123);
  const body = new Uint8Array(2 + text.length);
  body[0] = code >> 8;
  body[1] = code & 0xff;
  body.set(text, 2);
  return body;
}

/** A frame header as `parseHeader` reads it; one object is reused for every frame. */
export interface FrameHeader {
  fin: boolean;
  /** The reserved bits (RSV1-3); non-zero only with a negotiated extension. */
  rsv: number;
  opcode: number;
  masked: boolean;
  /** The masking key as a little-endian 32-bit number (0 when unmasked). */
  key: number;
  /** Body length. */
  size: number;
  /** Where the body starts. */
  body: number;
}

/** A fresh header to pass to `parseHeader`. */
export function frameHeader(): FrameHeader {
  return { fin: false, rsv: 0, opcode: 0, masked: false, key: 0, size: 0, body: 0 };
}

/**
 * Reads the header of the frame at `buf[pos]`, which holds bytes up to `end`, into `h`.
 * False when the header is not complete yet (read more); the body may still be partial.
 */
export function parseHeader(buf: Uint8Array, pos: number, end: number, h: FrameHeader): boolean {
  if (end - pos < 2) return false;
  const b0 = buf[pos];
  const b1 = buf[pos + 1];
  let size = b1 & 0x7f;
  let at = pos + 2;
  if (size === 126) {
    if (end - at < 2) return false;
    size = (buf[at] << 8) | buf[at + 1];
    at += 2;
  } else if (size === 127) {
    if (end - at < 8) return false;
    const hi = ((buf[at] << 24) | (buf[at + 1] << 16) | (buf[at + 2] << 8) | buf[at + 3]) >>> 0;
    const lo = ((buf[at + 4] << 24) | (buf[at + 5] << 16) | (buf[at + 6] << 8) | buf[at + 7]) >>>
      0;
    size = hi * 2 ** 32 + lo;
    at += 8;
  }
  const masked = (b1 & 0x80) !== 0;
  if (masked) {
    if (end - at < 4) return false;
    h.key = readMaskKey(buf, at);
    at += 4;
  } else h.key = 0;
  h.fin = (b0 & 0x80) !== 0;
  h.rsv = b0 & 0x70;
  h.opcode = b0 & 0x0f;
  h.masked = masked;
  h.size = size;
  h.body = at;
  return true;
}

/** The four bytes at `at` as a little-endian 32-bit masking key. */
export function readMaskKey(buf: Uint8Array, at: number): number {
  return (buf[at] | (buf[at + 1] << 8) | (buf[at + 2] << 16) | (buf[at + 3] << 24)) >>> 0;
}

const HEAD_BYTES = 16 * 1024;
// Head buffers are reused: a fresh one per connection, freed once the head is read, leaves
// the allocator's heap full of holes between what connections keep (measured: about 3 KB
// per idle connection).
const headBuffers = new BufferPool(HEAD_BYTES, 64);

/**
 * Reads an HTTP head (up to the blank line) off `conn`; returns it as text (without the
 * blank line), the bytes read past it, and the head's raw bytes (with the blank line).
 * Throws when the peer closes first or the head exceeds `maxBytes`.
 */
export async function readHttpHead(
  conn: Deno.Conn,
  maxBytes = HEAD_BYTES,
): Promise<[string, Uint8Array, Uint8Array]> {
  if (maxBytes !== HEAD_BYTES) return await readHead(conn, new Uint8Array(maxBytes));
  const buf = headBuffers.take();
  try {
    return await readHead(conn, buf);
  } finally {
    headBuffers.give(buf);
  }
}

async function readHead(
  conn: Deno.Conn,
  buf: Uint8Array,
): Promise<[string, Uint8Array, Uint8Array]> {
  let len = 0;
  let scanned = 3;
  while (len < buf.length) {
    const n = await conn.read(buf.subarray(len));
    if (n === null) throw new Error("connection closed before the HTTP head ended");
    len += n;
    for (let i = scanned; i < len; i++) {
      if (buf[i - 3] === 13 && buf[i - 2] === 10 && buf[i - 1] === 13 && buf[i] === 10) {
        return [decoder.decode(buf.subarray(0, i - 3)), buf.slice(i + 1, len), buf.slice(0, i + 1)];
      }
    }
    scanned = Math.max(3, len);
  }
  throw new Error(`HTTP head larger than ${buf.length} bytes`);
}

/** Writes all of `data`, however many writes it takes. */
export async function writeAll(conn: Deno.Conn, data: Uint8Array): Promise<void> {
  let off = 0;
  while (off < data.length) off += await conn.write(data.subarray(off));
}
