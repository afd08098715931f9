/**
 * Vector clocks on the wire (`Pulse.vclock`, field 20, and `Publish.consumed`, field 5):
 * `map<string, uint64>` from reality id to sequence. The checks a reported clock passes and
 * the hand encoding of the node's stamp (written after the producer's bytes).
 * @module
 */
import { realityError } from "./topic.ts";
import { varintLength, writeVarint } from "./varint.ts";
import { varint53Length, writeVarint53 } from "./wire_varint.ts";

/** A vector clock: reality id -> sequence (the proto3 map as protobufjs reads it). */
export type VectorClock = Record<string, number>;

/**
 * Entries one clock holds at most (`Publish.consumed` and the stamped `Pulse.vclock`).
 * @default {64}
 */
export const MAX_VCLOCK_ENTRIES = 64;

/**
 * Why a producer's reported clock is refused (INVALID_ARGUMENT), or undefined: more than
 * {@linkcode MAX_VCLOCK_ENTRIES} entries, a key that is not a reality id, a value that is
 * not a whole number in 0..2^53-1.
 *
 * @example
 * ```ts
 * import { vclockError } from "./vclock_wire.ts";
 * vclockError({ "lab": 4 }); // undefined
 * vclockError({ "Lab!": 4 }); // "vclock key 'Lab!': reality 'Lab!' must match [a-z0-9_-]+"
 * ```
 */
export function vclockError(clock: VectorClock): string | undefined {
  let n = 0;
  for (const key in clock) {
    if (++n > MAX_VCLOCK_ENTRIES) {
      return `a vector clock holds at most ${MAX_VCLOCK_ENTRIES} entries`;
    }
    const err = realityError(key);
    if (err) return `vclock key '${key}': ${err}`;
    const v = clock[key];
    if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) {
      return `vclock entry '${key}' must be a sequence (0..2^53-1)`;
    }
  }
  return undefined;
}

// One map entry: key 0x0a, key bytes, value 0x10, value varint (keys are reality ids: ASCII).
function entryLength(key: string, value: number): number {
  return 1 + varintLength(key.length) + key.length + 1 + varint53Length(value);
}

/**
 * Encoded bytes of `clock` as map entries of field `field`: `Pulse.vclock` (20, the
 * default) or `Publish.consumed` (5).
 */
export function vclockLength(clock: VectorClock, field = 20): number {
  const tagLen = field < 16 ? 1 : 2;
  let n = 0;
  for (const key in clock) {
    const e = entryLength(key, clock[key]);
    n += tagLen + varintLength(e) + e;
  }
  return n;
}

/**
 * Writes `clock` as map entries of field `field` (`Pulse.vclock`, 20, the default; or
 * `Publish.consumed`, 5) at `pos` of `buf` (room for {@linkcode vclockLength} bytes);
 * returns the position after them. Keys must be reality ids (checked by
 * {@linkcode vclockError}), hence ASCII.
 */
export function writeVclock(buf: Uint8Array, pos: number, clock: VectorClock, field = 20): number {
  for (const key in clock) {
    const value = clock[key];
    if (field < 16) buf[pos++] = (field << 3) | 2;
    else {
      buf[pos++] = ((field << 3) | 2) & 0x7f | 0x80; // two-byte tag: 0xa2 0x01 for 20
      buf[pos++] = (field << 3) >>> 7;
    }
    pos = writeVarint(buf, pos, entryLength(key, value));
    buf[pos++] = 0x0a;
    pos = writeVarint(buf, pos, key.length);
    for (let i = 0; i < key.length; i++) buf[pos + i] = key.charCodeAt(i);
    pos += key.length;
    buf[pos++] = 0x10;
    pos = writeVarint53(buf, pos, value);
  }
  return pos;
}
