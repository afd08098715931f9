/**
 * Hand-written protobuf for the few envelopes on the hot path, where protobufjs's
 * general-purpose writer (an op list plus a pooled Node Buffer per message) costs more
 * than the message itself:
 *
 * - `scanFrames` walks `Frame`/`Batch` envelopes and hands out the raw bytes of each
 *   publish's pulse, so the node can forward them without re-encoding;
 * - `stampSuffix` encodes the fields the node stamps. Appending them to the producer's
 *   pulse bytes yields the stamped pulse, because a protobuf parser keeps the last value
 *   of a repeated scalar field and merges repeated message fields (the timestamp is
 *   written with both members, so nothing of a producer's value survives);
 * - `scanHistoryChunk` reads a history chunk's pulses as views of their stored bytes, and
 *   `scanAck` a publish's ack, for the client;
 * - `encodePublishFrame` encodes a client's publish with the common fields.
 *
 * Anything unusual falls back to protobufjs.
 * @module
 */
export {
  envelopeDefect,
  type FrameVisitor,
  peekPublishLane,
  peekPublishReality,
  pulseProducerStartsWith,
  scanFrames,
} from "./wire_scan.ts";
export { scanHistoryChunk, type ScannedHistoryChunk } from "./wire_history_scan.ts";
export { scanAck, type ScannedAck } from "./wire_ack_scan.ts";
export { readAnycastTarget, type WireAnycastTarget } from "./wire_anycast.ts";
export {
  concatBytes,
  encodePublishFrame,
  type FrameSink,
  stampSuffix,
  writePublishFrame,
} from "./wire_encode.ts";
