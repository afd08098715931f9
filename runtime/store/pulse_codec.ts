/**
 * What the log stores per pulse (its protobuf encoding, made once by the Spine and shared
 * with deliveries) and the few fields it reads straight from those bytes, so history
 * filters never decode payloads.
 * @module
 */
import { decodePulse, encodePulse, type IPulse } from "../protocol/mod.ts";

/**
 * One pulse handed to the log: the stamped pulse and its encoding. The Spine's
 * `StampedPulse` fits (its `bytes` getter encodes once and caches); the log reads `bytes`
 * only for pulses it stores.
 */
export interface LogEntry {
  /** The pulse, stamped with id, sequence, reality and timestamp. */
  readonly pulse: IPulse;
  /** Its `arqon.v1.Pulse` protobuf encoding. */
  readonly bytes: Uint8Array;
  /** Optionally the encoding as two parts that concatenate to `bytes` (saves a copy). */
  readonly parts?: readonly [Uint8Array, Uint8Array | null];
}

/** Wraps a bare pulse as a `LogEntry` that encodes on first use. */
export function logEntry(pulse: IPulse): LogEntry {
  let bytes: Uint8Array | undefined;
  return {
    pulse,
    get bytes() {
      return bytes ??= encodePulse(pulse);
    },
  };
}

export { decodePulse };

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
      if (tag >>> 3 === 3) {
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
