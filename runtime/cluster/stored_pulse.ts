/**
 * A stream message back into a pulse: the stored bytes say sequence 0, so the stream
 * sequence (and, for a pulse stored without one, the reality's derived entropy seed) is
 * appended as fields (proto3 keeps a field's last value) instead of re-encoding the pulse.
 * @module
 */
import { concatBytes, decodePulse, type IPulse } from "../protocol/mod.ts";
import { StampedPulse, stampEntropy } from "../spine/mod.ts";

/**
 * The pulse of message `seq` of a reality's stream, stamped with its sequence; throws when
 * the bytes are not a pulse.
 */
export function storedPulse(realityId: string, data: Uint8Array, seq: number): StampedPulse {
  const pulse: IPulse = decodePulse(data);
  pulse.sequence = seq;
  // A pulse without an entropy seed gets the reality's derived one for this sequence
  // (docs/time.md), the same on every node.
  const seeded = stampEntropy(pulse, realityId, seq);
  const tail = seeded
    ? concatBytes(varintField(0x10, seq), varintField(0x70, Number(pulse.entropySeed)))
    : varintField(0x10, seq);
  return StampedPulse.fromStored(pulse, concatBytes(data, tail));
}

/** A varint field (`tag`: 0x10 Pulse.sequence, 0x70 Pulse.entropy_seed) as bytes. */
function varintField(tag: number, value: number): Uint8Array {
  const out = [tag];
  let v = value;
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
  return Uint8Array.from(out);
}
