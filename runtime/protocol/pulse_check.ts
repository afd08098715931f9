/**
 * Checks a producer's `Pulse` bytes before the node forwards them untouched to
 * subscribers and the durable log. The node's own decoder (protobufjs) is lenient: it
 * skips a field number 0, reads a known field whatever its wire type, and leaves nested
 * messages it does not look into unchecked. Strict parsers (the reference C++/upb
 * implementation behind Python's `google.protobuf`, `protoc --decode`) refuse such bytes,
 * so one hostile producer would break every strict consumer of a topic and every history
 * read over it. One scan, no allocation for ASCII strings, no re-encoding of valid pulses:
 *
 * - every tag has a field number in 1..2^29-1 and a wire type in {0, 1, 2, 5} (groups,
 *   long deprecated and absent from arqon.proto, are refused too);
 * - varints are at most 10 bytes; lengths stay within their message;
 * - known fields carry their declared wire type (repeated scalars: packed or not);
 * - nested messages (timestamp, spectral, map entries) are checked the same way;
 * - `string` fields (and map keys and values) are valid UTF-8.
 *
 * Unknown fields with a valid wire type pass: proto3 readers keep or skip them.
 *
 * @example
 * ```ts
 * import { pulseBytesError } from "./pulse_check.ts";
 *
 * pulseBytesError(new Uint8Array([0x1a, 0x01, 0x61])); // undefined: topic "a"
 * pulseBytesError(new Uint8Array([0x00, 0x01])); // "field number 0 at byte 0"
 * ```
 * @module
 */
import { BusError } from "./errors.ts";

const VARINT = 0;
const I64 = 1;
const LEN = 2;
const I32 = 5;

// What a known field holds, by field number, one byte per field: schemas are arrays, not
// maps, so a lookup is an index (this runs once per field of every publish).
const NONE = 0; // unknown field: any valid wire type
const K_VARINT = 1;
const K_BYTES = 2;
const K_STRING = 3;
const K_HLC = 4;
const K_STRING_MAP = 5;
const K_SPECTRAL = 6;
const K_DOUBLE = 7;
const K_DOUBLES = 8; // repeated double: packed or not
const K_FLOATS = 9; // repeated float: packed or not
const K_CLOCK_MAP = 10; // map<string, uint64>

type Schema = Uint8Array;

function schema(fields: Record<number, number>): Schema {
  const out = new Uint8Array(21);
  for (const [n, k] of Object.entries(fields)) out[Number(n)] = k;
  return out;
}

/** The fields of `arqon.v1.Pulse` (runtime/protocol/arqon.proto). */
const PULSE = schema({
  1: K_STRING, // id
  2: K_VARINT, // sequence
  3: K_STRING, // topic
  4: K_STRING, // producer_id
  5: K_STRING, // reality_id
  6: K_HLC, // timestamp
  7: K_STRING_MAP, // trace_context
  8: K_SPECTRAL, // spectral
  9: K_STRING_MAP, // headers
  10: K_STRING, // content_type
  11: K_BYTES, // payload
  12: K_STRING, // sync_id
  13: K_FLOATS, // intent_vector
  14: K_VARINT, // entropy_seed
  15: K_VARINT, // ghost
  16: K_STRING, // reply_to
  19: K_VARINT, // lane
  20: K_CLOCK_MAP, // vclock
});
const HLC = schema({ 1: K_VARINT, 2: K_VARINT });
const STRING_MAP_ENTRY = schema({ 1: K_STRING, 2: K_STRING });
const SPECTRAL = schema({ 1: K_DOUBLE, 2: K_DOUBLE, 3: K_DOUBLES });
const CLOCK_MAP_ENTRY = schema({ 1: K_STRING, 2: K_VARINT });

/** The wire type each kind is declared with. */
const DECLARED_WIRE = [-1, VARINT, LEN, LEN, LEN, LEN, LEN, I64, I64, I32, LEN];
const NESTED: (Schema | undefined)[] = [];
NESTED[K_HLC] = HLC;
NESTED[K_STRING_MAP] = STRING_MAP_ENTRY;
NESTED[K_SPECTRAL] = SPECTRAL;
NESTED[K_CLOCK_MAP] = CLOCK_MAP_ENTRY;

/** Messages nest two deep here; deeper cannot happen with this schema. */
const MAX_DEPTH = 2;

const utf8 = new TextDecoder("utf-8", { fatal: true });
const NOT_UTF8 = "is not valid UTF-8";

/** Why `bytes` is not a valid `Pulse` for strict protobuf parsers; undefined when valid. */
export function pulseBytesError(bytes: Uint8Array): string | undefined {
  return checkMessage(bytes, 0, bytes.length, PULSE, 0);
}

/**
 * `pulseBytesError` as the error a publish is refused with: `INVALID_UTF8` for a string
 * that is not UTF-8, `INVALID_FRAME` for anything else; undefined when valid.
 */
export function checkPulseBytes(bytes: Uint8Array): BusError | undefined {
  const why = checkMessage(bytes, 0, bytes.length, PULSE, 0);
  if (why === undefined) return undefined;
  const code = why.endsWith(NOT_UTF8) ? "INVALID_UTF8" : "INVALID_FRAME";
  return new BusError(code, `publish carries an invalid pulse: ${why}`);
}

function checkMessage(
  b: Uint8Array,
  start: number,
  end: number,
  fields: Schema,
  depth: number,
): string | undefined {
  if (depth > MAX_DEPTH) return `messages nested too deep at byte ${start}`;
  let pos = start;
  while (pos < end) {
    const at = pos;
    // The tag: a varint of at most 5 bytes (field numbers stop at 2^29 - 1).
    let byte = b[pos++];
    let key = byte & 0x7f;
    if (byte >= 0x80) {
      let shift = 7;
      do {
        if (pos >= end || shift > 28) return `truncated or over-long tag at byte ${at}`;
        byte = b[pos++];
        key += (byte & 0x7f) * 2 ** shift;
        shift += 7;
      } while (byte >= 0x80);
    }
    const field = Math.floor(key / 8);
    const wire = key & 7;
    if (field === 0) return `field number 0 at byte ${at}`;
    if (field > 0x1fffffff) return `field number ${field} out of range at byte ${at}`;
    let len = 0;
    if (wire === VARINT) {
      let n = 0;
      do {
        if (pos >= end || ++n > 10) return `truncated or over-long varint at byte ${at}`;
      } while (b[pos++] >= 0x80);
    } else if (wire === LEN) {
      byte = b[pos++];
      len = byte & 0x7f;
      let shift = 7;
      while (byte >= 0x80) {
        if (pos >= end || shift > 28) return `truncated or over-long length at byte ${at}`;
        byte = b[pos++];
        len += (byte & 0x7f) * 2 ** shift;
        shift += 7;
      }
      pos += len;
    } else if (wire === I64) pos += 8;
    else if (wire === I32) pos += 4;
    else return `wire type ${wire} of field ${field} at byte ${at}`;
    if (pos > end) return `field ${field} at byte ${at} runs past its message`;
    const kind = field < fields.length ? fields[field] : NONE;
    if (kind === NONE) continue; // unknown field, well formed: kept or skipped by readers
    if (wire !== DECLARED_WIRE[kind]) {
      if (wire !== LEN || (kind !== K_DOUBLES && kind !== K_FLOATS)) {
        return `field ${field} has wire type ${wire}, expected ${DECLARED_WIRE[kind]}`;
      }
      if (len % (kind === K_DOUBLES ? 8 : 4) !== 0) {
        return `packed field ${field} of ${len} bytes at byte ${at}`;
      }
      continue;
    }
    if (kind === K_STRING) {
      const from = pos - len;
      for (let i = from; i < pos; i++) {
        if (b[i] < 0x80) continue;
        try {
          utf8.decode(b.subarray(from, pos));
        } catch {
          return `field ${field} at byte ${at} ${NOT_UTF8}`;
        }
        break;
      }
    } else if ((kind >= K_HLC && kind <= K_SPECTRAL) || kind === K_CLOCK_MAP) {
      const inner = checkMessage(b, pos - len, pos, NESTED[kind]!, depth + 1);
      if (inner) return `in field ${field}: ${inner}`;
    }
  }
  return undefined;
}
