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

export function writeVarint53(buf: Uint8Array, pos: number, n: number): number {
  if (n < 0x100000000) return writeVarint(buf, pos, n >>> 0);
  while (n >= 0x80) {
    buf[pos++] = (n % 128) | 0x80;
    n = Math.floor(n / 128);
  }
  buf[pos++] = n;
  return pos;
}
