/**
 * Encoding and decoding of frames in both wire formats: protobuf (`arqon.v1.proto`)
 * and the canonical proto3 JSON mapping (`arqon.v1.json`). Decoding failures become a
 * `BusError` carrying the protocol error code to send back.
 * @module
 */
import { ErrorCodeEnum, FrameType, InvalidUtf8Error, protoNameRoot, PulseType } from "./schema.ts";
import type { ErrorCodeName, IFrame, IPulse } from "./types.ts";
import { BusError } from "./errors.ts";
import { correlationIdOf, FrameJsonError, jsonName, messageFromJson } from "./json_mapping.ts";
import { duplicateKey } from "./json_text.ts";
import { addFramePayloadViews, addPayloadView, foldFramePayloadViews } from "./payload_view.ts";
import { envelopeDefect } from "./wire.ts";
import type protobuf from "protobufjs";

/** Options of the proto3 canonical JSON mapping. */
const JSON_OPTIONS = {
  longs: String,
  enums: String,
  bytes: String,
  json: true,
} as const;

// Frame kinds by JSON and proto name: any other key of a frame is an unknown frame type.
const FRAME_KINDS = new Set(
  protoNameRoot.lookupType("arqon.v1.Frame").fieldsArray.flatMap((f) => [f.name, jsonName(f.name)]),
);

/** Encodes one frame as protobuf. */
export function encodeFrame(frame: IFrame): Uint8Array {
  return FrameType.encode(frame).finish();
}

/** Encodes a pulse as protobuf (done once per pulse, shared by all its deliveries). */
export function encodePulse(pulse: IPulse): Uint8Array {
  return PulseType.encode(pulse).finish();
}

/** Decodes a protobuf-encoded pulse. */
export function decodePulse(bytes: Uint8Array): IPulse {
  return PulseType.decode(bytes) as unknown as IPulse;
}

/** Decodes one protobuf frame; throws `BusError` for invalid bytes or strings. */
export function decodeFrame(bytes: Uint8Array): IFrame {
  // Before protobufjs, which would read a 2^63-byte batch as an empty one.
  const defect = envelopeDefect(bytes);
  if (defect) throw new BusError("INVALID_FRAME", `not a valid protobuf Frame: ${defect}`);
  let frame: IFrame;
  try {
    frame = FrameType.decode(bytes) as unknown as IFrame;
  } catch (err) {
    if (err instanceof InvalidUtf8Error) throw new BusError("INVALID_UTF8", err.message);
    throw new BusError("INVALID_FRAME", `not a valid protobuf Frame: ${(err as Error).message}`);
  }
  if (!frame.kind) throw new BusError("UNKNOWN_FRAME", "frame carries no known frame type");
  return frame;
}

/**
 * Renders one frame in the canonical JSON mapping, as a plain object; its pulses carry
 * the `data`/`text` view of their payload beside it (`payload_view.ts`).
 */
export function frameToJsonObject(frame: IFrame): Record<string, unknown> {
  const message = FrameType.fromObject(frame as Record<string, unknown>);
  return addFramePayloadViews(FrameType.toObject(message, JSON_OPTIONS));
}

/** Renders one frame as JSON text for `arqon.v1.json` sessions. */
export function encodeFrameJson(frame: IFrame): string {
  return JSON.stringify(frameToJsonObject(frame));
}

/**
 * Renders a pulse in the canonical JSON mapping (HTTP and SSE bodies), with the
 * `data`/`text` view of its payload (`payload_view.ts`).
 */
export function pulseToJsonObject(pulse: IPulse): Record<string, unknown> {
  // Decoded pulses are already message instances; only plain objects need fromObject.
  const message = pulse instanceof PulseType.ctor
    ? pulse as protobuf.Message
    : PulseType.fromObject(pulse as Record<string, unknown>);
  return addPayloadView(PulseType.toObject(message, JSON_OPTIONS));
}

/**
 * Parses JSON text for a frame: `JSON.parse`, then the refusal of duplicate keys (which
 * readers resolve differently). Throws `FrameJsonError` (`INVALID_FRAME`); a duplicate-key
 * error carries the frame's correlation id.
 */
export function parseJsonText(text: string): unknown {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new FrameJsonError("INVALID_FRAME", "", `not valid JSON: ${(err as Error).message}`);
  }
  const duplicate = duplicateKey(text);
  if (duplicate !== undefined) {
    const error = new FrameJsonError("INVALID_FRAME", duplicate, "duplicate key");
    error.correlationId = correlationIdOf(value);
    throw error;
  }
  return value;
}

/**
 * Reads a parsed JSON value as a `Frame` under the proto3 JSON mapping (strictly: see
 * `json_mapping.ts`). Throws `FrameJsonError` naming the field, with the frame's
 * correlation id when it can be read; `UNKNOWN_FRAME` for a frame of no known kind.
 */
export function frameFromJson(value: unknown): IFrame {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new FrameJsonError("INVALID_FRAME", "", "a JSON frame must be an object");
  }
  let frame: IFrame;
  try {
    for (const key of Object.keys(value)) {
      if (!FRAME_KINDS.has(key)) {
        throw new FrameJsonError("UNKNOWN_FRAME", key, "not a frame type of this protocol");
      }
    }
    const folded = foldFramePayloadViews(value as Record<string, unknown>);
    frame = FrameType.fromObject(messageFromJson(FrameType, folded)) as unknown as IFrame;
  } catch (err) {
    const error = err instanceof FrameJsonError
      ? err
      : new FrameJsonError("INVALID_FRAME", "", `not a valid Frame: ${(err as Error).message}`);
    error.correlationId = correlationIdOf(value);
    throw error;
  }
  if (!frame.kind) {
    throw new FrameJsonError("UNKNOWN_FRAME", "", "frame carries no known frame type");
  }
  return frame;
}

/** Parses one JSON text frame; throws `FrameJsonError` (a `BusError`) for what the mapping refuses. */
export function decodeFrameJson(text: string): IFrame {
  return frameFromJson(parseJsonText(text));
}

/** The numeric value of an error code name. */
export function errorCodeValue(name: ErrorCodeName): number {
  return ErrorCodeEnum.values[`ERROR_CODE_${name}`] ?? 0;
}

/** The short name of a numeric error code (`INVALID_TOPIC`), or `UNSPECIFIED`. */
export function errorCodeName(value: number): ErrorCodeName {
  const full = ErrorCodeEnum.valuesById[value];
  return (full ? full.replace(/^ERROR_CODE_/, "") : "UNSPECIFIED") as ErrorCodeName;
}
