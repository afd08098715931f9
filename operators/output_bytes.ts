/**
 * An operator output's protobuf encoding, made with the protocol's hand encoder (the one the
 * client uses for its publishes) and handed to `spine.publish` as the producer's bytes: every
 * delivery then reuses them plus the node's stamp, as it does for a client's publish, instead
 * of a protobufjs encode of each output on its first delivery.
 * @module
 */
import { encodePublishFrame, type IPulse } from "../runtime/protocol/mod.ts";

/**
 * The encoding of `pulse` (a `Pulse` message), or `undefined` when it carries a field the
 * hand encoder does not write (e.g. spectral metadata): the Spine then encodes it itself.
 */
export function encodedOutput(pulse: IPulse): Uint8Array | undefined {
  const frame = encodePublishFrame(0, 0, pulse);
  if (!frame) return undefined;
  // Frame{publish(3){pulse(3)}}: skip the two tags and their length varints.
  let p = 1;
  while (frame[p++] & 0x80);
  p++;
  while (frame[p++] & 0x80);
  return frame.subarray(p);
}
