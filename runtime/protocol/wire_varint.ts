/**
 * Varint helpers of the hand-written wire codec (`wire.ts`): wire-type constants, a
 * varint reader up to 2^53, and the length and writer of 53-bit varints.
 * @module
 */
import { varintLength, writeVarint } from "./varint.ts";

export const WIRE_VARINT = 0;
export const WIRE_LEN = 2;

/** Reads a varint (up to 2^53) at `pos`; returns [value, next position]; -1 on truncation. */
export function readVarint(buf: Uint8Array, pos: number): [number, number] {
  let result = 0;
  let mul = 1;
  for (let i = 0; i < 10; i++) {
    if (pos >= buf.length) return [0, -1];
    const b = buf[pos++];
    result += (b & 0x7f) * mul;
    if (b < 0x80) return [result, pos];
    mul *= 128;
  }
  return [0, -1];
}

/** Bytes of a varint of any value up to 2^53. */
export function varint53Length(n: number): number {
  // Comparisons, not log2: Math.log2(2 ** 49 + 1) rounds to 49, one byte short.
  return n < 0x100000000
    ? varintLength(n >>> 0)
    : n < 2 ** 35
    ? 5
    : n < 2 ** 42
    ? 6
    : n < 2 ** 49
    ? 7
    : 8;
}

/**
 * Writes `n` (an integer up to 2^53) as a varint at `pos`; returns the position after it.
 * Past 32 bits the value is split into two 32-bit halves and written with integer shifts:
 * `%` and `Math.floor` on doubles cost about 30 ns a byte here, and every stamp writes two
 * such values (wall time, entropy seed).
 */
export function writeVarint53(buf: Uint8Array, pos: number, n: number): number {
  if (n < 0x100000000) return writeVarint(buf, pos, n >>> 0);
  let lo = n >>> 0;
  const hi = (n - lo) / 0x100000000; // below 2^21
  // At least 33 bits: four full groups of seven come from the low half.
  buf[pos++] = (lo & 0x7f) | 0x80;
  lo >>>= 7;
  buf[pos++] = (lo & 0x7f) | 0x80;
  lo >>>= 7;
  buf[pos++] = (lo & 0x7f) | 0x80;
  lo >>>= 7;
  buf[pos++] = (lo & 0x7f) | 0x80;
  lo >>>= 7;
  // What is left (n / 2^28, below 2^25) fits in 32-bit integer arithmetic.
  let rest = (lo | (hi << 4)) >>> 0;
  while (rest >= 0x80) {
    buf[pos++] = (rest & 0x7f) | 0x80;
    rest >>>= 7;
  }
  buf[pos++] = rest;
  return pos;
}
