/**
 * A stream message back into a pulse: the stored bytes say sequence 0, so the stream
 * sequence (and, for a pulse stored without one, the reality's derived entropy seed) is
 * appended as fields (proto3 keeps a field's last value) instead of re-encoding the pulse.
 * @module
 */
import { decodePulse, type IPulse } from "../protocol/mod.ts";
import { StampedPulse, stampEntropy } from "../spine/mod.ts";

/** Room for the two appended fields: a tag byte and a varint of at most 8 bytes (< 2^53) each. */
const TAIL_ROOM = 18;

/**
 * The pulse of message `seq` of a reality's stream, stamped with its sequence; throws when
 * the bytes are not a pulse.
 *
 * One buffer per pulse: the message is copied into it with room for the appended fields and
 * decoded from there, so the pulse's fields (its payload is a view) and its bytes refer to
 * that buffer only, never to the socket chunk the message arrived in (up to 256 KB, which a
 * pulse kept in a slow subscriber's queue would otherwise keep alive). Before, two small
 * arrays per field and a second copy of the whole pulse cost more than the decode itself.
 */
export function storedPulse(realityId: string, data: Uint8Array, seq: number): StampedPulse {
  const out = new Uint8Array(data.length + TAIL_ROOM);
  out.set(data);
  let end = writeVarintField(out, data.length, 0x10, seq);
  // Decoded with the sequence already in (the last `sequence` field wins).
  const pulse: IPulse = decodePulse(out.subarray(0, end));
  // A pulse without an entropy seed gets the reality's derived one for this sequence
  // (docs/time.md), the same on every node.
  if (stampEntropy(pulse, realityId, seq)) {
    end = writeVarintField(out, end, 0x70, Number(pulse.entropySeed));
  }
  return StampedPulse.fromStored(pulse, out.subarray(0, end));
}

/**
 * Writes a varint field (`tag`: 0x10 Pulse.sequence, 0x70 Pulse.entropy_seed) of `value`
 * (an integer below 2^53) at `at`; returns where it ends.
 */
function writeVarintField(out: Uint8Array, at: number, tag: number, value: number): number {
  out[at++] = tag;
  let v = value;
  while (v >= 0x80) {
    out[at++] = (v % 0x80) | 0x80;
    v = Math.floor(v / 0x80);
  }
  out[at++] = v;
  return at;
}
