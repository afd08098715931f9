/**
 * An operator output's protobuf encoding, made with the protocol's hand encoder (the one the
 * client uses for its publishes) and handed to `spine.publish` as the producer's bytes: every
 * delivery then reuses them plus the node's stamp, as it does for a client's publish, instead
 * of a protobufjs encode of each output on its first delivery.
 * @module
 */
import { type FrameSink, type IPulse, writePublishFrame } from "../runtime/protocol/mod.ts";

/** Frames are carved from shared slabs this large (an output is usually ~100-300 bytes). */
const SLAB_BYTES = 64 * 1024;

/**
 * Outputs are small: carving their frames from a shared slab, as the node's stamps are
 * (runtime/protocol/wire_encode.ts, `stampSuffix`), saves a backing store allocation per
 * output. A slab lives while any output cut from it does (the log keeps outputs).
 */
class Slab implements FrameSink {
  buffer = new Uint8Array(SLAB_BYTES);
  start = 0;
  end = 0;
  reserve(length: number): number {
    if (this.end + length > this.buffer.length) {
      this.buffer = new Uint8Array(Math.max(SLAB_BYTES, length));
      this.end = 0;
    }
    this.start = this.end;
    this.end += length;
    return this.start;
  }
}
const slab = new Slab();

/**
 * The encoding of `pulse` (a `Pulse` message), or `undefined` when it carries a field the
 * hand encoder does not write: the Spine then encodes it itself.
 */
export function encodedOutput(pulse: IPulse): Uint8Array | undefined {
  if (!writePublishFrame(slab, 0, 0, pulse)) return undefined;
  const frame = slab.buffer;
  // Frame{publish(3){pulse(3)}}: skip the two tags and their length varints.
  let p = slab.start + 1;
  while (frame[p++] & 0x80);
  p++;
  while (frame[p++] & 0x80);
  return frame.subarray(p, slab.end);
}
