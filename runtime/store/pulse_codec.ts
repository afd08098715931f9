/**
 * Encodes pulses to their protobuf bytes for storage and back, and reads the few fields
 * the log indexes straight from the bytes so history filters do not decode payloads.
 * @module
 */
import protobuf from "protobufjs";

/** A uint64 as protobufjs hands it out: a number, or a `Long` when `long` is loaded. */
export type Uint64 = number | { toNumber(): number } | bigint;

/**
 * The fields of `arqon.v1.IPulse` the store reads. The protobufjs type generated from
 * `arqon.proto` is structurally compatible, so the Spine passes its pulses as they are.
 */
export interface PulseFields {
  id?: string | null;
  sequence?: Uint64 | null;
  topic?: string | null;
  realityId?: string | null;
  timestamp?: { wallMs?: Uint64 | null; logical?: number | null } | null;
  payload?: Uint8Array | null;
}

const root = protobuf.parse(
  Deno.readTextFileSync(new URL("../protocol/arqon.proto", import.meta.url)),
  { keepCase: false },
).root;

/** The reflected `arqon.v1.Pulse` type used for storage encoding. */
export const PulseType: protobuf.Type = root.lookupType("arqon.v1.Pulse");

/** Converts a protobufjs uint64 (number, Long or bigint) to a JS number. */
export function toNumber(value: Uint64 | null | undefined): number {
  if (value === null || value === undefined) return 0;
  if (typeof value === "number") return value;
  if (typeof value === "bigint") return Number(value);
  return value.toNumber();
}

/** Appends the protobuf encoding of `pulse` to `writer`, returning the encoded length. */
export function encodePulseInto(pulse: PulseFields, writer: protobuf.Writer): number {
  const before = writer.len;
  PulseType.encode(pulse as protobuf.Message, writer);
  return writer.len - before;
}

/** Decodes stored bytes into a pulse object (the protobufjs message instance). */
export function decodePulse<T = PulseFields>(bytes: Uint8Array): T {
  return PulseType.decode(bytes) as unknown as T;
}

/**
 * Reads field 3 (`topic`) from an encoded pulse without decoding the rest. Topics are
 * ASCII by construction, so a byte-to-char copy is exact.
 */
export function readTopic(bytes: Uint8Array): string {
  let pos = 0;
  const end = bytes.length;
  while (pos < end) {
    let tag = 0;
    let shift = 0;
    let b: number;
    do {
      b = bytes[pos++];
      tag |= (b & 0x7f) << shift;
      shift += 7;
    } while (b & 0x80);
    const wire = tag & 7;
    const field = tag >>> 3;
    if (wire === 0) {
      while (bytes[pos++] & 0x80);
    } else if (wire === 2) {
      let len = 0;
      shift = 0;
      do {
        b = bytes[pos++];
        len += (b & 0x7f) * 2 ** shift;
        shift += 7;
      } while (b & 0x80);
      if (field === 3) {
        return String.fromCharCode.apply(
          null,
          bytes.subarray(pos, pos + len) as unknown as number[],
        );
      }
      pos += len;
    } else if (wire === 1) {
      pos += 8;
    } else if (wire === 5) {
      pos += 4;
    } else {
      break;
    }
  }
  return "";
}
