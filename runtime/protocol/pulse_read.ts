/**
 * The node's reader of a producer's `Pulse` bytes on the publish path. protobufjs's
 * generated decoder reads every string through a strict UTF-8 reader that allocates a view
 * and a new string per field; a publisher sends the same topic and reality again and
 * again, so this reader keeps the last string of each and compares bytes instead. It reads
 * the fields a publish commonly carries (ids, topic, producer, reality, content type,
 * payload, sync id, entropy seed, ghost, reply topic, semantic trace, lane) into the same
 * message object protobufjs would build (its constructor, so the same defaults and own
 * fields), and returns undefined for anything else (timestamps, maps, spectral metadata,
 * intent vectors, unknown fields, varints past 2^49): the caller then decodes with
 * protobufjs. The payload is a view into the bytes, as protobufjs makes it.
 *
 * The bytes must have passed `checkPulseBytes` (wire types, lengths and UTF-8 checked).
 *
 * @example
 * ```ts
 * import { encodePulse, PulseReader } from "./mod.ts";
 *
 * const reader = new PulseReader();
 * const pulse = reader.read(encodePulse({ topic: "a.b", payload: Uint8Array.of(1) }));
 * pulse?.topic; // "a.b"
 * ```
 * @module
 */
import { PulseType } from "./schema.ts";
import type { IPulse } from "./types.ts";

const utf8 = new TextDecoder("utf-8", { fatal: true });
// protobufjs's message class: `new PulseCtor()` is what its decoder starts from.
const PulseCtor = PulseType.ctor as unknown as new () => IPulse;

// Varints longer than this (values of 2^49 and more) are left to protobufjs, whose
// 64-bit reading this reader does not reproduce bit for bit.
const MAX_VARINT_BYTES = 7;

/** One remembered string field: its bytes and the string they decode to. */
class LastString {
  bytes = new Uint8Array(0);
  text = "";
  // Longer strings are decoded each time (a hostile producer must not make us keep them).
  static readonly MAX = 256;

  get(buf: Uint8Array, from: number, to: number): string {
    const len = to - from;
    const last = this.bytes;
    if (len === last.length) {
      let same = true;
      for (let i = 0; i < len; i++) {
        if (buf[from + i] !== last[i]) {
          same = false;
          break;
        }
      }
      if (same) return this.text;
    }
    const text = decodeString(buf, from, to);
    if (len <= LastString.MAX) {
      this.bytes = buf.slice(from, to);
      this.text = text;
    }
    return text;
  }
}

function decodeString(buf: Uint8Array, from: number, to: number): string {
  if (from === to) return "";
  let ascii = true;
  for (let i = from; i < to; i++) {
    if (buf[i] >= 0x80) {
      ascii = false;
      break;
    }
  }
  if (ascii && to - from < 64) {
    return String.fromCharCode.apply(null, buf.subarray(from, to) as unknown as number[]);
  }
  return utf8.decode(buf.subarray(from, to));
}

/**
 * Reads publishes' pulse bytes, remembering the last topic, reality and producer strings
 * (one reader per session: its publisher repeats them).
 */
export class PulseReader {
  readonly #topic = new LastString();
  readonly #reality = new LastString();
  readonly #other = new LastString();

  /**
   * The pulse `bytes` encode, as protobufjs would decode it; undefined when they hold a
   * field this reader leaves to protobufjs.
   */
  read(bytes: Uint8Array): IPulse | undefined {
    const m = new PulseCtor();
    const end = bytes.length;
    let pos = 0;
    while (pos < end) {
      // Tags of the fields read here fit in two bytes (field 20 at most).
      let key = bytes[pos++];
      if (key >= 0x80) {
        const b = bytes[pos++];
        if (b >= 0x80) return undefined;
        key = (key & 0x7f) | (b << 7);
      }
      const field = key >>> 3;
      if ((key & 7) === 0) {
        // A varint, up to MAX_VARINT_BYTES long.
        let value = 0;
        let mul = 1;
        let n = 0;
        let b;
        do {
          if (++n > MAX_VARINT_BYTES) return undefined;
          b = bytes[pos++];
          value += (b & 0x7f) * mul;
          mul *= 128;
        } while (b >= 0x80);
        switch (field) {
          case 2:
            m.sequence = value;
            break;
          case 14:
            m.entropySeed = value;
            break;
          case 15:
            m.ghost = (value | 0) !== 0; // bool: protobufjs reads 32 bits
            break;
          case 19:
            // int32: protobufjs keeps the low 32 bits, signed.
            m.lane = value | 0;
            break;
          default:
            return undefined;
        }
        continue;
      }
      if ((key & 7) !== 2) return undefined;
      let len = 0;
      let mul = 1;
      let b;
      do {
        b = bytes[pos++];
        len += (b & 0x7f) * mul;
        mul *= 128;
      } while (b >= 0x80);
      const from = pos;
      pos += len;
      switch (field) {
        case 1:
          m.id = decodeString(bytes, from, pos);
          break;
        case 3:
          m.topic = this.#topic.get(bytes, from, pos);
          break;
        case 4:
          m.producerId = this.#other.get(bytes, from, pos);
          break;
        case 5:
          m.realityId = this.#reality.get(bytes, from, pos);
          break;
        case 10:
          m.contentType = decodeString(bytes, from, pos);
          break;
        case 11:
          m.payload = bytes.subarray(from, pos);
          break;
        case 12:
          m.syncId = decodeString(bytes, from, pos);
          break;
        case 16:
          m.replyTo = decodeString(bytes, from, pos);
          break;
        case 18:
          m.semtrace!.push(decodeString(bytes, from, pos));
          break;
        default:
          return undefined;
      }
    }
    return m;
  }
}
