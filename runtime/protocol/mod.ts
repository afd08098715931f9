/**
 * The ArqonBus wire protocol: `arqon.proto` types, codecs for protobuf and JSON frames,
 * and the batch assembler used on the hot path.
 * @module
 */
export * from "./types.ts";
export * as arqon from "./namespace.ts";
export {
  decodeFrame,
  decodeFrameJson,
  decodePulse,
  encodeFrame,
  encodeFrameJson,
  encodePulse,
  errorCodeName,
  errorCodeValue,
  frameFromJson,
  frameToJsonObject,
  parseJsonText,
  pulseToJsonObject,
} from "./codec.ts";
export { correlationIdOf, FrameJsonError, jsonName, messageFromJson } from "./json_mapping.ts";
export { duplicateKey } from "./json_text.ts";
export {
  addFramePayloadViews,
  addPayloadView,
  foldFramePayloadViews,
  foldPayloadView,
  payloadViewOf,
} from "./payload_view.ts";
export { BatchBuilder } from "./batch.ts";
export { varintLength, writeVarint } from "./varint.ts";
export {
  codecOf,
  type DeliveryPulse,
  type FrameCodec,
  frameCodec,
  frameKind,
  type FrameReader,
  JSON_CODEC,
  type OutboundBatch,
  PROTO_CODEC,
  readDecoded,
  type WireFormat,
  type WireMessage,
} from "./frame_codec.ts";
export {
  type CompiledPattern,
  compilePattern,
  coversPattern,
  matchesTopic,
  overlapsPattern,
  topicMatches,
} from "./pattern.ts";
export {
  MAX_TOPIC_BYTES,
  MAX_TOPIC_SEGMENTS,
  patternError,
  realityError,
  topicError,
} from "./topic.ts";
export { checkPulseBytes, pulseBytesError } from "./pulse_check.ts";
export {
  MAX_VCLOCK_ENTRIES,
  vclockError,
  vclockLength,
  type VectorClock,
  writeVclock,
} from "./vclock_wire.ts";
export { PulseView } from "./pulse_view.ts";
export { PulseReader } from "./pulse_read.ts";
export { MAX_EIGENVALUES, spectralError } from "./spectral.ts";
export {
  compileSpectralFilter,
  MAX_SPECTRAL_FILTER_BYTES,
  type SpectralFilter,
} from "./spectral_filter.ts";
export {
  concatBytes,
  encodePublishFrame,
  type FrameSink,
  type FrameVisitor,
  peekPublishLane,
  peekPublishReality,
  pulseProducerStartsWith,
  readAnycastTarget,
  scanAck,
  scanFrames,
  scanHistoryChunk,
  type ScannedAck,
  type ScannedHistoryChunk,
  stampSuffix,
  type WireAnycastTarget,
  writePublishFrame,
} from "./wire.ts";
export { BusError, type HttpErrorStatus, httpStatusOf } from "./errors.ts";
export { FrameType, InvalidUtf8Error, PulseType, schemaRoot } from "./schema.ts";

/** Protocol version spoken by this node and client. */
export const PROTOCOL_VERSION = 1;
/** WebSocket subprotocol for binary protobuf frames. */
export const SUBPROTOCOL_PROTO = "arqon.v1.proto";
/** WebSocket subprotocol for JSON text frames. */
export const SUBPROTOCOL_JSON = "arqon.v1.json";
