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
 * - `encodePublishFrame` encodes a client's publish with the common fields.
 *
 * Anything unusual falls back to protobufjs.
 * @module
 */
import { varintLength, writeVarint } from "./varint.ts";
import type { IHlcTimestamp, IPulse } from "./types.ts";

const WIRE_VARINT = 0;
const WIRE_LEN = 2;

/** Reads a varint (up to 2^53) at `pos`; returns [value, next position]; -1 on truncation. */
function readVarint(buf: Uint8Array, pos: number): [number, number] {
  let result = 0;
  let mul = 1;
  for (let i = 0; i < 10; i++) {
    if (pos >= buf.length) return [0, -1];
    const b = buf[pos++];
    result += (b & 0x7f) * mul;
    if (b < 0x80) return [result, pos];
    mul *= 128;
  }
  return [0, -1];
}

/**
 * Why a `Frame` envelope cannot be decoded faithfully, or null: a length-delimited field
 * of the frame, of a batch or of a batch's frames announcing more bytes than remain, a
 * varint longer than 10 bytes or cut short. protobufjs reads lengths as 32-bit numbers,
 * so a length of 2^32 or 2^63 would be read as 0: a batch taken as empty.
 */
export function envelopeDefect(bytes: Uint8Array): string | null {
  return walkEnvelope(bytes, 0, bytes.length, 0);
}

// depth 0: a Frame; 1: a Batch (field 14 of a Frame); 2: a Frame inside a batch.
function walkEnvelope(buf: Uint8Array, pos: number, end: number, depth: number): string | null {
  while (pos < end) {
    const [key, p1] = readVarint(buf, pos);
    if (p1 < 0 || p1 > end) return `truncated or overlong field key at byte ${pos}`;
    const field = Math.floor(key / 8);
    const wire = key % 8;
    if (wire === WIRE_VARINT) {
      const [, p2] = readVarint(buf, p1);
      if (p2 < 0 || p2 > end) return `truncated or overlong varint in field ${field}`;
      pos = p2;
    } else if (wire === 1 || wire === 5) {
      pos = p1 + (wire === 1 ? 8 : 4);
      if (pos > end) return `truncated fixed-size field ${field}`;
    } else if (wire === WIRE_LEN) {
      const [len, p2] = readVarint(buf, p1);
      if (p2 < 0 || p2 > end) return `truncated or overlong length of field ${field}`;
      if (len > end - p2) {
        return `field ${field} announces ${len} bytes where ${end - p2} remain`;
      }
      const inner = depth === 0 && field === 14 ? 1 : depth === 1 && field === 1 ? 2 : -1;
      if (inner > 0) {
        const defect = walkEnvelope(buf, p2, p2 + len, inner);
        if (defect) return defect;
      }
      pos = p2 + len;
    } else return null; // groups and invalid wire types: the decoder reports them
  }
  return null;
}

/** Receives what `scanFrames` finds. */
export interface FrameVisitor {
  /** A `Frame{publish}` whose pulse bytes are `pulse` (a view into the input). */
  publish(correlationId: number, ack: number, pulse: Uint8Array): void;
  /** A `Frame{deliver}` (clients): the subscription id and the pulse bytes. */
  deliver?(subscriptionId: number, pulse: Uint8Array): void;
  /** Any other frame, as its own encoded bytes (decode with protobufjs). */
  other(frame: Uint8Array): void;
  /** A nested batch, which the protocol forbids. */
  nestedBatch(): void;
}

/**
 * Walks one transport message. Returns false when the envelope is malformed (the
 * caller then decodes it with protobufjs to produce a precise error).
 */
export function scanFrames(bytes: Uint8Array, visitor: FrameVisitor): boolean {
  const [key, at] = readVarint(bytes, 0);
  if (at < 0) return false;
  if (key === ((14 << 3) | WIRE_LEN)) {
    const [len, start] = readVarint(bytes, at);
    if (start < 0 || start + len !== bytes.length) return false;
    // Validate the whole batch envelope before visiting, so a bad tail rejects all of it.
    const frames: [number, number][] = [];
    let pos = start;
    while (pos < bytes.length) {
      const [k, p1] = readVarint(bytes, pos);
      if (p1 < 0 || k !== ((1 << 3) | WIRE_LEN)) return false;
      const [flen, p2] = readVarint(bytes, p1);
      if (p2 < 0 || p2 + flen > bytes.length) return false;
      frames.push([p2, p2 + flen]);
      pos = p2 + flen;
    }
    for (const [s, e] of frames) visitOne(bytes.subarray(s, e), visitor, true);
    return true;
  }
  visitOne(bytes, visitor, false);
  return true;
}

function visitOne(frame: Uint8Array, visitor: FrameVisitor, nested: boolean): void {
  const [key, at] = readVarint(frame, 0);
  if (nested && key === ((14 << 3) | WIRE_LEN)) return visitor.nestedBatch();
  const isPublish = key === ((3 << 3) | WIRE_LEN);
  const isDeliver = key === ((8 << 3) | WIRE_LEN) && visitor.deliver !== undefined;
  if (at < 0 || !(isPublish || isDeliver)) return visitor.other(frame);
  const [len, start] = readVarint(frame, at);
  if (start < 0 || start + len !== frame.length) return visitor.other(frame);
  // Publish: 1 correlation_id, 2 ack, 3 pulse. Deliver: 1 subscription_id, 2 pulse.
  const pulseField = isPublish ? 3 : 2;
  let pos = start;
  let first = 0;
  let second = 0;
  let pulse: Uint8Array | null = null;
  while (pos < frame.length) {
    const [k, p1] = readVarint(frame, pos);
    if (p1 < 0) return visitor.other(frame);
    const field = Math.floor(k / 8);
    const wire = k & 7;
    if (wire === WIRE_VARINT) {
      const [v, p2] = readVarint(frame, p1);
      if (p2 < 0) return visitor.other(frame);
      if (field === 1) first = v;
      else if (field === 2) second = v;
      pos = p2;
    } else if (wire === WIRE_LEN) {
      const [l, p2] = readVarint(frame, p1);
      if (p2 < 0 || p2 + l > frame.length) return visitor.other(frame);
      if (field === pulseField) pulse = frame.subarray(p2, p2 + l);
      pos = p2 + l;
    } else {
      return visitor.other(frame);
    }
  }
  const bytes = pulse ?? new Uint8Array(0);
  if (isPublish) visitor.publish(first, second, bytes);
  else visitor.deliver!(first, bytes);
}

/**
 * The reality id of the first publish in one transport message (a `Frame` or a `Batch`),
 * read without decoding anything else: the node's ingress scheduler files the message
 * under it. Undefined when the message starts with another frame or is malformed (then
 * the full decode reports the error); "" for a publish to the default reality.
 */
export function peekPublishReality(bytes: Uint8Array): string | undefined {
  let frame = lenField(bytes, 0, bytes.length, 14, false, true);
  frame = frame ? lenField(bytes, frame[0], frame[1], 1, false) : [0, bytes.length];
  if (!frame) return undefined;
  const publish = lenField(bytes, frame[0], frame[1], 3, false, true);
  if (!publish) return undefined;
  const pulse = lenField(bytes, publish[0], publish[1], 3, true);
  if (!pulse) return undefined;
  const reality = lenField(bytes, pulse[0], pulse[1], 5, true);
  return reality ? utf8Decoder.decode(bytes.subarray(reality[0], reality[1])) : "";
}

const utf8Decoder = new TextDecoder();

/**
 * The [start, end) of length-delimited field `field` within `buf[from, to)`: the first
 * occurrence, or the last one when `last` (protobuf's rule for scalars). With `leading`,
 * only a message whose first field it is counts (how frames name their kind).
 */
function lenField(
  buf: Uint8Array,
  from: number,
  to: number,
  field: number,
  last: boolean,
  leading = false,
): [number, number] | undefined {
  let found: [number, number] | undefined;
  let pos = from;
  while (pos < to) {
    const [key, p1] = readVarint(buf, pos);
    if (p1 < 0 || p1 > to) return found;
    const wire = key & 7;
    if (wire === WIRE_VARINT) {
      const [, p2] = readVarint(buf, p1);
      if (p2 < 0) return found;
      pos = p2;
    } else if (wire === WIRE_LEN) {
      const [len, p2] = readVarint(buf, p1);
      if (p2 < 0 || p2 + len > to) return found;
      if (Math.floor(key / 8) === field) {
        found = [p2, p2 + len];
        if (!last) return found;
      }
      pos = p2 + len;
    } else if (wire === 5) {
      pos = p1 + 4;
    } else if (wire === 1) {
      pos = p1 + 8;
    } else {
      return found;
    }
    if (leading && !found) return undefined;
  }
  return found;
}

/** UTF-8 byte length of `s`. */
function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      n += 4;
      i++;
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

/** Bytes of a varint of any value up to 2^53. */
function varint53Length(n: number): number {
  // Comparisons, not log2: Math.log2(2 ** 49 + 1) rounds to 49, one byte short.
  return n < 0x100000000
    ? varintLength(n >>> 0)
    : n < 2 ** 35
    ? 5
    : n < 2 ** 42
    ? 6
    : n < 2 ** 49
    ? 7
    : 8;
}

function writeVarint53(buf: Uint8Array, pos: number, n: number): number {
  if (n < 0x100000000) return writeVarint(buf, pos, n >>> 0);
  while (n >= 0x80) {
    buf[pos++] = (n % 128) | 0x80;
    n = Math.floor(n / 128);
  }
  buf[pos++] = n;
  return pos;
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

/** The encoded stamp of a pulse: id (1), sequence (2), producer (4), reality (5), timestamp (6). */
export function stampSuffix(
  id: string,
  sequence: number,
  producerId: string,
  realityId: string,
  ts: IHlcTimestamp,
): Uint8Array {
  const wall = ts.wallMs ?? 0;
  const logical = ts.logical ?? 0;
  const idLen = id.length; // UUIDs are ASCII
  const origin = encodedOrigin(producerId, realityId);
  const tsLen = 1 + varint53Length(wall) + 1 + varintLength(logical);
  const size = 1 + varintLength(idLen) + idLen + 1 + varint53Length(sequence) + origin.length +
    1 + varintLength(tsLen) + tsLen;
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
  out.set(origin, p);
  p += origin.length;
  out[p++] = (6 << 3) | WIRE_LEN;
  p = writeVarint(out, p, tsLen);
  out[p++] = (1 << 3) | WIRE_VARINT;
  p = writeVarint53(out, p, wall);
  out[p++] = (2 << 3) | WIRE_VARINT;
  p = writeVarint(out, p, logical);
  slabPos = p;
  return out.subarray(start, p);
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
 * Encodes `Frame{publish{correlation_id, ack, pulse}}` when the pulse has only topic,
 * reality, content type, headers, trace context and payload; returns null otherwise.
 */
export function encodePublishFrame(
  correlationId: number,
  ack: number,
  pulse: IPulse,
): Uint8Array | null {
  for (const key in pulse) {
    const v = (pulse as Record<string, unknown>)[key];
    if (v === undefined || v === "" || v === null) continue;
    if (!SIMPLE_FIELDS.has(key)) return null;
  }
  const topic = pulse.topic ?? "";
  const reality = pulse.realityId ?? "";
  const contentType = pulse.contentType ?? "";
  const payload = pulse.payload ?? EMPTY;
  const topicLen = utf8Length(topic);
  const realLen = utf8Length(reality);
  const ctLen = utf8Length(contentType);
  const maps: [number, string, number, string, number][] = [];
  for (const [field, map] of [[9, pulse.headers], [7, pulse.traceContext]] as const) {
    if (!map) continue;
    for (const k in map) {
      const v = map[k];
      maps.push([field, k, utf8Length(k), v, utf8Length(v)]);
    }
  }
  let pulseLen = (topicLen ? 1 + varintLength(topicLen) + topicLen : 0) +
    (realLen ? 1 + varintLength(realLen) + realLen : 0) +
    (ctLen ? 1 + varintLength(ctLen) + ctLen : 0) +
    (payload.length ? 1 + varintLength(payload.length) + payload.length : 0);
  for (const [, , kl, , vl] of maps) {
    const entry = 1 + varintLength(kl) + kl + 1 + varintLength(vl) + vl;
    pulseLen += 1 + varintLength(entry) + entry;
  }
  const publishLen = (correlationId ? 1 + varint53Length(correlationId) : 0) +
    (ack ? 1 + varintLength(ack) : 0) + 1 + varintLength(pulseLen) + pulseLen;
  const out = new Uint8Array(1 + varintLength(publishLen) + publishLen);
  let p = 0;
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
  if (ctLen) {
    out[p++] = (10 << 3) | WIRE_LEN;
    p = writeVarint(out, p, ctLen);
    p = writeString(out, p, contentType, ctLen);
  }
  if (payload.length) {
    out[p++] = (11 << 3) | WIRE_LEN;
    p = writeVarint(out, p, payload.length);
    out.set(payload, p);
  }
  return out;
}

const EMPTY = new Uint8Array(0);
const SIMPLE_FIELDS = new Set([
  "topic",
  "realityId",
  "contentType",
  "payload",
  "headers",
  "traceContext",
]);
