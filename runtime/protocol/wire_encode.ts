/**
 * Writing side of the hand-written wire codec (`wire.ts`): the node's stamp suffix, the
 * client's publish frame and byte concatenation.
 * @module
 */
import { varintLength, writeVarint } from "./varint.ts";
import type { IHlcTimestamp, IPulse } from "./types.ts";
import { varint53Length, WIRE_LEN, WIRE_VARINT, writeVarint53 } from "./wire_varint.ts";
import { vclockLength, type VectorClock, writeVclock } from "./vclock_wire.ts";

/** UTF-8 byte length of `s`. */
function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      // A pair is 4 bytes; a lone high surrogate is U+FFFD (3 bytes, as TextEncoder writes
      // it) and the next character counts on its own.
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n += 4;
        i++;
      } else n += 3;
    } else n += 3;
  }
  return n;
}

const utf8 = new TextEncoder();

function writeString(buf: Uint8Array, pos: number, s: string, byteLength: number): number {
  if (byteLength === s.length) {
    for (let i = 0; i < s.length; i++) buf[pos + i] = s.charCodeAt(i);
    return pos + byteLength;
  }
  utf8.encodeInto(s, buf.subarray(pos, pos + byteLength));
  return pos + byteLength;
}

// Stamps are small (about 80 bytes); carving them from a shared slab avoids a backing
// store allocation per pulse. A slab lives while any stamp cut from it does.
const SLAB_BYTES = 64 * 1024;
let slab = new Uint8Array(SLAB_BYTES);
let slabPos = 0;
// Fields 4 (producer_id) and 5 (reality_id) encoded, per (producer, reality) pair.
const originCache = new Map<string, Uint8Array>();

let lastProducer = "";
let lastReality = "";
let lastOrigin: Uint8Array | null = null;

function encodedOrigin(producerId: string, realityId: string): Uint8Array {
  // Consecutive pulses nearly always come from the same producer and reality.
  if (lastOrigin && producerId === lastProducer && realityId === lastReality) return lastOrigin;
  const key = producerId + "\u0000" + realityId;
  let bytes = originCache.get(key);
  if (bytes) {
    lastProducer = producerId;
    lastReality = realityId;
    lastOrigin = bytes;
    return bytes;
  }
  const prodLen = utf8Length(producerId);
  const realLen = utf8Length(realityId);
  bytes = new Uint8Array(2 + varintLength(prodLen) + prodLen + varintLength(realLen) + realLen);
  let p = 0;
  bytes[p++] = (4 << 3) | WIRE_LEN;
  p = writeVarint(bytes, p, prodLen);
  p = writeString(bytes, p, producerId, prodLen);
  bytes[p++] = (5 << 3) | WIRE_LEN;
  p = writeVarint(bytes, p, realLen);
  writeString(bytes, p, realityId, realLen);
  if (originCache.size > 10_000) originCache.clear();
  originCache.set(key, bytes);
  return bytes;
}

// Pulse.semtrace (18) entries encoded, per hop: a publisher repeats its topic.
const hopCache = new Map<string, Uint8Array>();
let lastHop = "";
let lastHopBytes: Uint8Array | null = null;

/** `hop` as one `semtrace` entry: tag 0x92 0x01, length, UTF-8 bytes. */
function encodedHop(hop: string): Uint8Array {
  if (lastHopBytes !== null && hop === lastHop) return lastHopBytes;
  let bytes = hopCache.get(hop);
  if (bytes === undefined) {
    const len = utf8Length(hop);
    bytes = new Uint8Array(2 + varintLength(len) + len);
    bytes[0] = 0x92;
    bytes[1] = 0x01;
    writeString(bytes, writeVarint(bytes, 2, len), hop, len);
    // Bounded like the origin cache; long hops are not kept.
    if (hopCache.size > 10_000) hopCache.clear();
    if (len <= 256) hopCache.set(hop, bytes);
  }
  lastHop = hop;
  lastHopBytes = bytes;
  return bytes;
}

// Pulse.vclock (20) entries as a stamp writes its own one (reality_id -> sequence): the
// entry's key part (0x0a, length, reality id) per reality, the last one at hand.
const ownKeyCache = new Map<string, Uint8Array>();
let lastOwnReality = "";
let lastOwnKey: Uint8Array | null = null;

function encodedOwnKey(realityId: string): Uint8Array {
  if (lastOwnKey !== null && realityId === lastOwnReality) return lastOwnKey;
  let bytes = ownKeyCache.get(realityId);
  if (bytes === undefined) {
    // Reality ids are ASCII (checked where they are accepted), as writeVclock assumes.
    const len = realityId.length;
    bytes = new Uint8Array(1 + varintLength(len) + len);
    bytes[0] = 0x0a;
    writeString(bytes, writeVarint(bytes, 1, len), realityId, len);
    if (ownKeyCache.size > 10_000) ownKeyCache.clear();
    ownKeyCache.set(realityId, bytes);
  }
  lastOwnReality = realityId;
  lastOwnKey = bytes;
  return bytes;
}

/**
 * The encoded stamp of a pulse: id (1), sequence (2), producer (4), reality (5), timestamp
 * (6), when `hop` is given one more `semtrace` (18) entry, when `seed` is non-zero the
 * entropy seed (14) the node derived, and, when `clock` is given, the vector clock (20) the
 * node stamped. `ownClock` says that `clock` is exactly `{[realityId]: sequence}` (no
 * dependencies: the common case), so its one entry is written without walking the map (the
 * same bytes; walking it twice cost about 0.1 µs a pulse on the node's publish path).
 */
export function stampSuffix(
  id: string,
  sequence: number,
  producerId: string,
  realityId: string,
  ts: IHlcTimestamp,
  hop = "",
  seed = 0,
  clock?: VectorClock | null,
  ownClock = false,
): Uint8Array {
  const wall = ts.wallMs ?? 0;
  const logical = ts.logical ?? 0;
  const idLen = id.length; // UUIDs are ASCII
  const origin = encodedOrigin(producerId, realityId);
  const tsLen = 1 + varint53Length(wall) + 1 + varintLength(logical);
  const hopBytes = hop === "" ? null : encodedHop(hop);
  const seqLen = varint53Length(sequence);
  // The own entry: tag 0xa2 0x01, its length, the key part, 0x10 and the sequence.
  const ownKey = clock && ownClock ? encodedOwnKey(realityId) : null;
  const ownLen = ownKey === null ? 0 : ownKey.length + 1 + seqLen;
  const size = 1 + varintLength(idLen) + idLen + 1 + seqLen + origin.length +
    1 + varintLength(tsLen) + tsLen + (hopBytes ? hopBytes.length : 0) +
    (seed ? 1 + varint53Length(seed) : 0) +
    (ownKey !== null ? 2 + varintLength(ownLen) + ownLen : clock ? vclockLength(clock) : 0);
  if (slabPos + size > SLAB_BYTES) {
    slab = new Uint8Array(Math.max(SLAB_BYTES, size));
    slabPos = 0;
  }
  const out = slab;
  const start = slabPos;
  let p = start;
  out[p++] = (1 << 3) | WIRE_LEN;
  p = writeVarint(out, p, idLen);
  for (let i = 0; i < idLen; i++) out[p + i] = id.charCodeAt(i);
  p += idLen;
  out[p++] = (2 << 3) | WIRE_VARINT;
  p = writeVarint53(out, p, sequence);
  p = copySmall(out, p, origin);
  out[p++] = (6 << 3) | WIRE_LEN;
  p = writeVarint(out, p, tsLen);
  out[p++] = (1 << 3) | WIRE_VARINT;
  p = writeVarint53(out, p, wall);
  out[p++] = (2 << 3) | WIRE_VARINT;
  p = writeVarint(out, p, logical);
  if (hopBytes) {
    // Pulse.semtrace = 18: the node's hop, after any entries the producer sent.
    p = copySmall(out, p, hopBytes);
  }
  if (seed) {
    // Pulse.entropy_seed = 14: the seed the node derived (docs/time.md).
    out[p++] = (14 << 3) | WIRE_VARINT;
    p = writeVarint53(out, p, seed);
  }
  if (ownKey !== null) {
    out[p++] = 0xa2;
    out[p++] = 0x01;
    p = writeVarint(out, p, ownLen);
    p = copySmall(out, p, ownKey);
    out[p++] = 0x10;
    p = writeVarint53(out, p, sequence);
  } else if (clock) p = writeVclock(out, p, clock);
  slabPos = p;
  return out.subarray(start, p);
}

/** Copies a few bytes (a loop beats `TypedArray.set`'s call below ~64 bytes); returns the end. */
function copySmall(out: Uint8Array, at: number, bytes: Uint8Array): number {
  const n = bytes.length;
  for (let i = 0; i < n; i++) out[at + i] = bytes[i];
  return at + n;
}

/** Concatenates byte arrays into one new array (e.g. producer bytes and the node's stamp). */
export function concatBytes(...parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  let length = 0;
  for (const p of parts) length += p.length;
  const out = new Uint8Array(length);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * Where `writePublishFrame` puts a frame once it knows its size: `reserve(length)` makes
 * room for `length` bytes and returns their offset in `buffer` (read after the call).
 */
export interface FrameSink {
  /** The buffer the reserved bytes are in (read after `reserve`). */
  readonly buffer: Uint8Array;
  /** Makes room for `length` bytes; returns where they start in `buffer`. */
  reserve(length: number): number;
}

// The sink of `encodePublishFrame`: a fresh array of the frame's exact size.
class OwnArray implements FrameSink {
  buffer: Uint8Array = new Uint8Array(0);
  reserve(length: number): number {
    this.buffer = new Uint8Array(length);
    return 0;
  }
}
const ownArray = new OwnArray();

/**
 * Encodes `Frame{publish{correlation_id, ack, pulse}}` when the pulse has only topic,
 * reality, content type, headers, trace context, payload, spectral metadata, semantic
 * trace and lane; returns null otherwise.
 */
export function encodePublishFrame(
  correlationId: number,
  ack: number,
  pulse: IPulse,
  consumed?: VectorClock,
): Uint8Array | null {
  if (!writePublishFrame(ownArray, correlationId, ack, pulse, consumed)) return null;
  const out = ownArray.buffer;
  ownArray.buffer = EMPTY;
  return out;
}

/**
 * `encodePublishFrame` written straight into `sink` (a client's outgoing buffer: no array
 * of its own, no copy); false, with nothing reserved, when the pulse needs protobufjs.
 */
export function writePublishFrame(
  sink: FrameSink,
  correlationId: number,
  ack: number,
  pulse: IPulse,
  consumed?: VectorClock,
): boolean {
  for (const key in pulse) {
    const v = (pulse as Record<string, unknown>)[key];
    if (v === undefined || v === "" || v === null) continue;
    if (!SIMPLE_FIELDS.has(key)) return false;
  }
  const topic = pulse.topic ?? "";
  const reality = pulse.realityId ?? "";
  const contentType = pulse.contentType ?? "";
  const payload = pulse.payload ?? EMPTY;
  // Latency lane (field 19): a small non-negative enum; anything else takes protobufjs.
  const lane = (pulse.lane ?? 0) as number;
  if (lane !== 0 && !(lane > 0 && lane < 0x80 && Number.isInteger(lane))) return false;
  const topicLen = utf8Length(topic);
  const realLen = utf8Length(reality);
  const ctLen = utf8Length(contentType);
  // Headers and trace context as (field, key, key length, value, length); a pulse with
  // neither (the common case) allocates nothing here.
  let maps: [number, string, number, string, number][] = NO_MAPS;
  if (pulse.headers || pulse.traceContext) {
    maps = [];
    for (const [field, map] of [[9, pulse.headers], [7, pulse.traceContext]] as const) {
      if (!map) continue;
      for (const k in map) {
        const v = map[k];
        maps.push([field, k, utf8Length(k), v, utf8Length(v)]);
      }
    }
  }
  let pulseLen = (topicLen ? 1 + varintLength(topicLen) + topicLen : 0) +
    (realLen ? 1 + varintLength(realLen) + realLen : 0) +
    (ctLen ? 1 + varintLength(ctLen) + ctLen : 0) +
    (payload.length ? 1 + varintLength(payload.length) + payload.length : 0) +
    (lane ? 3 : 0);
  for (const [, , kl, , vl] of maps) {
    const entry = 1 + varintLength(kl) + kl + 1 + varintLength(vl) + vl;
    pulseLen += 1 + varintLength(entry) + entry;
  }
  // Pulse.spectral = 8 (an operator's coherence and eigenvalues): three doubles' fields.
  const spectral = pulse.spectral;
  const eigen = spectral?.eigenvalues ?? [];
  const spectralLen = spectral
    ? 18 + (eigen.length ? 1 + varintLength(eigen.length * 8) + eigen.length * 8 : 0)
    : -1;
  if (spectral) pulseLen += 1 + varintLength(spectralLen) + spectralLen;
  // Pulse.semtrace = 18 (repeated string): a two-byte key per entry.
  const trace = pulse.semtrace ?? NO_TRACE;
  const traceLens = trace.length ? trace.map(utf8Length) : NO_LENGTHS;
  for (const l of traceLens) pulseLen += 2 + varintLength(l) + l;
  const consumedLen = consumed ? vclockLength(consumed, 5) : 0;
  const publishLen = (correlationId ? 1 + varint53Length(correlationId) : 0) +
    (ack ? 1 + varintLength(ack) : 0) + 1 + varintLength(pulseLen) + pulseLen + consumedLen;
  let p = sink.reserve(1 + varintLength(publishLen) + publishLen);
  const out = sink.buffer;
  out[p++] = (3 << 3) | WIRE_LEN;
  p = writeVarint(out, p, publishLen);
  if (correlationId) {
    out[p++] = (1 << 3) | WIRE_VARINT;
    p = writeVarint53(out, p, correlationId);
  }
  if (ack) {
    out[p++] = (2 << 3) | WIRE_VARINT;
    p = writeVarint(out, p, ack);
  }
  out[p++] = (3 << 3) | WIRE_LEN;
  p = writeVarint(out, p, pulseLen);
  if (topicLen) {
    out[p++] = (3 << 3) | WIRE_LEN;
    p = writeVarint(out, p, topicLen);
    p = writeString(out, p, topic, topicLen);
  }
  if (realLen) {
    out[p++] = (5 << 3) | WIRE_LEN;
    p = writeVarint(out, p, realLen);
    p = writeString(out, p, reality, realLen);
  }
  for (const [field, k, kl, v, vl] of maps) {
    out[p++] = (field << 3) | WIRE_LEN;
    p = writeVarint(out, p, 1 + varintLength(kl) + kl + 1 + varintLength(vl) + vl);
    out[p++] = (1 << 3) | WIRE_LEN;
    p = writeVarint(out, p, kl);
    p = writeString(out, p, k, kl);
    out[p++] = (2 << 3) | WIRE_LEN;
    p = writeVarint(out, p, vl);
    p = writeString(out, p, v, vl);
  }
  if (spectral) {
    out[p++] = (8 << 3) | WIRE_LEN;
    p = writeVarint(out, p, spectralLen);
    out[p++] = (1 << 3) | WIRE_I64;
    p = writeDouble(out, p, Number(spectral.coherence ?? 0));
    out[p++] = (2 << 3) | WIRE_I64;
    p = writeDouble(out, p, Number(spectral.criticality ?? 0));
    if (eigen.length) {
      // Packed, as proto3 writes repeated scalars.
      out[p++] = (3 << 3) | WIRE_LEN;
      p = writeVarint(out, p, eigen.length * 8);
      for (const e of eigen) p = writeDouble(out, p, Number(e));
    }
  }
  if (ctLen) {
    out[p++] = (10 << 3) | WIRE_LEN;
    p = writeVarint(out, p, ctLen);
    p = writeString(out, p, contentType, ctLen);
  }
  if (payload.length) {
    out[p++] = (11 << 3) | WIRE_LEN;
    p = writeVarint(out, p, payload.length);
    out.set(payload, p);
    p += payload.length;
  }
  for (let i = 0; i < trace.length; i++) {
    out[p++] = 0x92; // (18 << 3) | WIRE_LEN, as a varint
    out[p++] = 0x01;
    p = writeVarint(out, p, traceLens[i]);
    p = writeString(out, p, trace[i], traceLens[i]);
  }
  if (lane) {
    out[p++] = 0x98; // field 19, varint: two key bytes
    out[p++] = 0x01;
    out[p++] = lane;
  }
  // Publish.consumed (field 5), after the pulse.
  if (consumed) writeVclock(out, p, consumed, 5);
  return true;
}

const EMPTY = new Uint8Array(0);
/** Wire type of a 64-bit fixed field (double). */
const WIRE_I64 = 1;
const f64Bytes = new Uint8Array(8);
const f64 = new DataView(f64Bytes.buffer);

/** Writes `v` as a little-endian IEEE 754 double at `pos`; returns the position after it. */
function writeDouble(buf: Uint8Array, pos: number, v: number): number {
  f64.setFloat64(0, v, true);
  for (let i = 0; i < 8; i++) buf[pos + i] = f64Bytes[i];
  return pos + 8;
}

const NO_MAPS: [number, string, number, string, number][] = [];
const NO_TRACE: string[] = [];
const NO_LENGTHS: number[] = [];
const SIMPLE_FIELDS = new Set([
  "spectral",
  "lane",
  "topic",
  "semtrace",
  "realityId",
  "contentType",
  "payload",
  "headers",
  "traceContext",
]);
