/**
 * Encoding and decoding of frames in both wire formats: protobuf (`arqon.v1.proto`)
 * and the canonical proto3 JSON mapping (`arqon.v1.json`). Decoding failures become a
 * `BusError` carrying the protocol error code to send back.
 * @module
 */
import { ErrorCodeEnum, FrameType, InvalidUtf8Error, PulseType } from "./schema.ts";
import type { ErrorCodeName, IFrame, IPulse } from "./types.ts";
import { BusError } from "./errors.ts";
import type protobuf from "protobufjs";

/** Options of the proto3 canonical JSON mapping. */
const JSON_OPTIONS = {
  longs: String,
  enums: String,
  bytes: String,
  json: true,
} as const;

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

/** Renders one frame in the canonical JSON mapping, as a plain object. */
export function frameToJsonObject(frame: IFrame): Record<string, unknown> {
  const message = FrameType.fromObject(frame as Record<string, unknown>);
  return FrameType.toObject(message, JSON_OPTIONS);
}

/** Renders one frame as JSON text for `arqon.v1.json` sessions. */
export function encodeFrameJson(frame: IFrame): string {
  return JSON.stringify(frameToJsonObject(frame));
}

/** Renders a pulse in the canonical JSON mapping (HTTP and SSE bodies). */
export function pulseToJsonObject(pulse: IPulse): Record<string, unknown> {
  // Decoded pulses are already message instances; only plain objects need fromObject.
  const message = pulse instanceof PulseType.ctor
    ? pulse as protobuf.Message
    : PulseType.fromObject(pulse as Record<string, unknown>);
  return PulseType.toObject(message, JSON_OPTIONS);
}

/** Parses one JSON text frame; throws `BusError` for invalid JSON or shapes. */
export function decodeFrameJson(text: string): IFrame {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new BusError("INVALID_FRAME", `not valid JSON: ${(err as Error).message}`);
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new BusError("INVALID_FRAME", "a JSON frame must be an object");
  }
  let frame: IFrame;
  try {
    const err = FrameType.verify(value as Record<string, unknown>);
    if (err) throw new Error(err);
    frame = FrameType.fromObject(value as Record<string, unknown>) as unknown as IFrame;
  } catch (err) {
    // verify() rejects enum names and string uint64s that fromObject accepts; fall back.
    try {
      frame = FrameType.fromObject(value as Record<string, unknown>) as unknown as IFrame;
    } catch {
      throw new BusError("INVALID_FRAME", `not a valid Frame: ${(err as Error).message}`);
    }
  }
  if (!frame.kind) throw new BusError("UNKNOWN_FRAME", "frame carries no known frame type");
  return frame;
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
