/**
 * Minimal protobuf varint helpers for the hand-assembled batch frames: the hot path
 * wraps already-encoded bytes into `Batch`/`Deliver` envelopes without re-encoding them.
 * @module
 */

/** Bytes a base-128 varint of `n` (an unsigned 32-bit value) occupies. */
export function varintLength(n: number): number {
  return n < 0x80 ? 1 : n < 0x4000 ? 2 : n < 0x200000 ? 3 : n < 0x10000000 ? 4 : 5;
}

/** Writes `n` (unsigned 32-bit) as a varint at `pos`; returns the position after it. */
export function writeVarint(buf: Uint8Array, pos: number, n: number): number {
  while (n >= 0x80) {
    buf[pos++] = (n & 0x7f) | 0x80;
    n >>>= 7;
  }
  buf[pos++] = n;
  return pos;
}
