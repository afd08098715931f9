/**
 * Reading side of the hand-written wire codec (`wire.ts`): envelope checks, the frame
 * scanner that hands out raw pulse bytes, and the reality peek of the ingress scheduler.
 * @module
 */
import { readVarint, WIRE_LEN, WIRE_VARINT } from "./wire_varint.ts";
import { scanHistoryChunk, type ScannedHistoryChunk } from "./wire_history_scan.ts";
import { scanAck, type ScannedAck } from "./wire_ack_scan.ts";
import { readAnycastTarget, type WireAnycastTarget } from "./wire_anycast.ts";

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
  /**
   * A `Frame{publish}` whose pulse bytes are `pulse` (a view into the input), with the
   * vector clock its producer reported (`Publish.consumed`) and its anycast target (a
   * copy of the floats), if any.
   */
  publish(
    correlationId: number,
    ack: number,
    pulse: Uint8Array,
    consumed?: Record<string, number>,
    anycast?: WireAnycastTarget,
  ): void;
  /** A `Frame{deliver}` (clients): the subscription id and the pulse bytes. */
  deliver?(subscriptionId: number, pulse: Uint8Array): void;
  /**
   * A `Frame{history_chunk}` (clients): its pulses as views of their stored bytes, not
   * decoded. Absent, or when the chunk holds anything unusual, `other` gets the frame.
   */
  historyChunk?(chunk: ScannedHistoryChunk): void;
  /**
   * A `Frame{ack}` (clients), read in place. Absent, or when the ack holds anything
   * unusual, `other` gets the frame.
   */
  ack?(ack: ScannedAck): void;
  /** Any other frame, as its own encoded bytes (decode with protobufjs). */
  other(frame: Uint8Array): void;
  /** A nested batch, which the protocol forbids. */
  nestedBatch(): void;
}

// The position after the varint `varintAt` read last; -1 when it was truncated or longer
// than 10 bytes. A module-level cursor, not a [value, position] pair: this runs a few
// times per received frame, and the pair was an allocation each time.
let after = 0;

/** Reads the varint (up to 2^53) at `pos`, not past `end`; its end is left in `after`. */
function varintAt(buf: Uint8Array, pos: number, end: number): number {
  if (pos < end) {
    const b = buf[pos];
    if (b < 0x80) {
      after = pos + 1;
      return b;
    }
  }
  let result = 0;
  let mul = 1;
  for (let i = 0; i < 10; i++) {
    if (pos >= end) break;
    const b = buf[pos++];
    result += (b & 0x7f) * mul;
    if (b < 0x80) {
      after = pos;
      return result;
    }
    mul *= 128;
  }
  after = -1;
  return 0;
}

const BATCH_KEY = (14 << 3) | WIRE_LEN;
const BATCH_FRAMES_KEY = (1 << 3) | WIRE_LEN;
const PUBLISH_KEY = (3 << 3) | WIRE_LEN;
const DELIVER_KEY = (8 << 3) | WIRE_LEN;
const HISTORY_CHUNK_KEY = (21 << 3) | WIRE_LEN;
const ACK_KEY = (4 << 3) | WIRE_LEN;

/**
 * Walks one transport message. Returns false when the envelope is malformed (the
 * caller then decodes it with protobufjs to produce a precise error).
 */
export function scanFrames(bytes: Uint8Array, visitor: FrameVisitor): boolean {
  const total = bytes.length;
  const key = varintAt(bytes, 0, total);
  if (after < 0) return false;
  if (key === BATCH_KEY) {
    const len = varintAt(bytes, after, total);
    const start = after;
    if (start < 0 || start + len !== total) return false;
    // Validate the whole batch envelope before visiting, so a bad tail rejects all of it;
    // then walk it again (re-reading two varints a frame costs less than keeping them).
    let pos = start;
    while (pos < total) {
      const k = varintAt(bytes, pos, total);
      if (after < 0 || k !== BATCH_FRAMES_KEY) return false;
      const flen = varintAt(bytes, after, total);
      if (after < 0 || after + flen > total) return false;
      pos = after + flen;
    }
    pos = start;
    while (pos < total) {
      varintAt(bytes, pos, total);
      const flen = varintAt(bytes, after, total);
      const from = after;
      pos = from + flen;
      visitOne(bytes, from, pos, visitor, true);
    }
    return true;
  }
  visitOne(bytes, 0, total, visitor, false);
  return true;
}

/** Visits the frame in `buf[from, to)`. */
function visitOne(
  buf: Uint8Array,
  from: number,
  to: number,
  visitor: FrameVisitor,
  nested: boolean,
): void {
  const key = varintAt(buf, from, to);
  const at = after;
  if (nested && key === BATCH_KEY) return visitor.nestedBatch();
  if (key === HISTORY_CHUNK_KEY && visitor.historyChunk !== undefined && at >= 0) {
    const len = varintAt(buf, at, to);
    const start = after;
    const chunk = start < 0 || start + len !== to ? null : scanHistoryChunk(buf, start, to);
    return chunk ? visitor.historyChunk(chunk) : visitor.other(buf.subarray(from, to));
  }
  if (key === ACK_KEY && visitor.ack !== undefined && at >= 0) {
    const len = varintAt(buf, at, to);
    const start = after;
    const ack = start < 0 || start + len !== to ? null : scanAck(buf, start, to);
    return ack ? visitor.ack(ack) : visitor.other(buf.subarray(from, to));
  }
  const isPublish = key === PUBLISH_KEY;
  const isDeliver = key === DELIVER_KEY && visitor.deliver !== undefined;
  if (at < 0 || !(isPublish || isDeliver)) return visitor.other(buf.subarray(from, to));
  const len = varintAt(buf, at, to);
  const start = after;
  if (start < 0 || start + len !== to) return visitor.other(buf.subarray(from, to));
  // Publish: 1 correlation_id, 2 ack, 3 pulse. Deliver: 1 subscription_id, 2 pulse.
  const pulseField = isPublish ? 3 : 2;
  let pos = start;
  let first = 0;
  let second = 0;
  let pulseFrom = 0;
  let pulseTo = 0;
  let consumed: Record<string, number> | undefined;
  let anycast: WireAnycastTarget | undefined;
  while (pos < to) {
    const k = varintAt(buf, pos, to);
    if (after < 0) return visitor.other(buf.subarray(from, to));
    const field = Math.floor(k / 8);
    const wire = k & 7;
    if (wire === WIRE_VARINT) {
      const v = varintAt(buf, after, to);
      if (after < 0) return visitor.other(buf.subarray(from, to));
      if (field === 1) first = v;
      else if (field === 2) second = v;
      pos = after;
    } else if (wire === WIRE_LEN) {
      const l = varintAt(buf, after, to);
      const p2 = after;
      if (p2 < 0 || p2 + l > to) return visitor.other(buf.subarray(from, to));
      if (field === pulseField) {
        // The last occurrence is the pulse, as protobufjs reads a repeated message field.
        pulseFrom = p2;
        pulseTo = p2 + l;
      } else if (isPublish && field === 5) {
        // Publish.consumed: one map entry; anything unusual is left to the full decode.
        const entry = clockEntry(buf, p2, p2 + l);
        if (entry === null) return visitor.other(buf.subarray(from, to));
        (consumed ??= {})[entry[0]] = entry[1];
      } else if (isPublish && field === 4 && anycast === undefined) {
        // Publish.anycast: its vector copied in one block, not float by float.
        const target = readAnycastTarget(buf, p2, p2 + l);
        if (target === null) return visitor.other(buf.subarray(from, to));
        anycast = target;
      } // Any other length field (Deliver.anycast_match): decoded whole.
      else return visitor.other(buf.subarray(from, to));
      pos = p2 + l;
    } else {
      return visitor.other(buf.subarray(from, to));
    }
  }
  const pulse = pulseTo === 0 ? EMPTY : buf.subarray(pulseFrom, pulseTo);
  if (isPublish) visitor.publish(first, second, pulse, consumed, anycast);
  else visitor.deliver!(first, pulse);
}

const EMPTY = new Uint8Array(0);

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
 * Whether the producer id (`Pulse.producer_id`, field 4) of an encoded pulse starts with
 * the ASCII `prefix`, read without decoding anything else: the last value of the field
 * counts, as protobuf reads it (a stored pulse carries the node's stamp after the
 * producer's bytes). A replay sorts a long log into inputs and operator outputs this way.
 */
export function pulseProducerStartsWith(bytes: Uint8Array, prefix: string): boolean {
  const at = lenField(bytes, 0, bytes.length, 4, true);
  if (!at || at[1] - at[0] < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) {
    if (bytes[at[0] + i] !== prefix.charCodeAt(i)) return false;
  }
  return true;
}

/**
 * The lane (`Pulse.lane`, field 19) the message's first publish names, by the same cheap
 * look: 0 when it names none, does not start with a publish, or is malformed.
 */
export function peekPublishLane(bytes: Uint8Array): number {
  let frame = lenField(bytes, 0, bytes.length, 14, false, true);
  frame = frame ? lenField(bytes, frame[0], frame[1], 1, false) : [0, bytes.length];
  if (!frame) return 0;
  const publish = lenField(bytes, frame[0], frame[1], 3, false, true);
  if (!publish) return 0;
  const pulse = lenField(bytes, publish[0], publish[1], 3, true);
  if (!pulse) return 0;
  // Field 19 as a varint: the last one wins, as protobuf reads scalars.
  let lane = 0;
  let pos = pulse[0];
  const to = pulse[1];
  while (pos < to) {
    const [key, p1] = readVarint(bytes, pos);
    if (p1 < 0 || p1 > to) return lane;
    const wire = key & 7;
    if (wire === WIRE_VARINT) {
      const [v, p2] = readVarint(bytes, p1);
      if (p2 < 0) return lane;
      if (key === (19 << 3)) lane = v;
      pos = p2;
    } else if (wire === WIRE_LEN) {
      const [len, p2] = readVarint(bytes, p1);
      if (p2 < 0) return lane;
      pos = p2 + len;
    } else if (wire === 5) pos = p1 + 4;
    else if (wire === 1) pos = p1 + 8;
    else return lane;
  }
  return lane;
}

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

/**
 * One `map<string, uint64>` entry between `start` and `end` whose key is a short ASCII
 * string (reality ids are): [key, value]; null for anything else (the full decode then
 * reads it, or reports it).
 */
function clockEntry(b: Uint8Array, start: number, end: number): [string, number] | null {
  let pos = start;
  let key = "";
  let value = 0;
  while (pos < end) {
    const tag = b[pos++];
    if (tag === 0x0a) {
      const len = b[pos++];
      if (len >= 0x80 || pos + len > end) return null;
      for (let i = pos; i < pos + len; i++) if (b[i] >= 0x80) return null;
      key = String.fromCharCode.apply(null, b.subarray(pos, pos + len) as unknown as number[]);
      pos += len;
    } else if (tag === 0x10) {
      const [v, next] = readVarint(b, pos);
      if (next < 0 || next > end) return null;
      value = v;
      pos = next;
    } else return null;
  }
  return [key, value];
}
