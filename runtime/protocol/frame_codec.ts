/**
 * One interface for the two wire formats a connection speaks: protobuf (`arqon.v1.proto`,
 * binary messages) and the canonical proto3 JSON mapping (`arqon.v1.json`, text
 * messages). A session holds one codec for what it sends and reads each received message
 * with the codec of that message's type, so the session itself has no format branches.
 *
 * The protobuf codec keeps the hot path hand-written: `read` walks envelopes with
 * `scanFrames` and hands out each publish's pulse bytes, and outbound batches are built
 * by `BatchBuilder` around pulses encoded once.
 * @module
 */
import { BatchBuilder } from "./batch.ts";
import {
  decodeFrame,
  decodeFrameJson,
  encodeFrame,
  frameFromJson,
  frameToJsonObject,
  parseJsonText,
} from "./codec.ts";
import { FrameJsonError } from "./json_mapping.ts";
import { BusError } from "./errors.ts";
import type { IFrame } from "./types.ts";
import {
  type FrameVisitor,
  peekPublishLane,
  peekPublishReality,
  scanFrames,
  type WireAnycastTarget,
} from "./wire.ts";

/** Frame encoding of a connection: `proto` (binary) or `json` (text). */
export type WireFormat = "proto" | "json";

/** One transport message: bytes for protobuf, a string for JSON. */
export type WireMessage = Uint8Array | string;

/**
 * A pulse ready to be delivered, encoded at most once however many subscribers get it
 * (the Spine's `StampedPulse` is one).
 */
export interface DeliveryPulse {
  /** The protobuf encoding as two parts that concatenate to it (the second may be null). */
  readonly parts: readonly [Uint8Array, Uint8Array | null];
  /** The pulse in the canonical JSON mapping. */
  readonly json: Record<string, unknown>;
  /** Approximate encoded size in bytes. */
  readonly size: number;
}

/** Receives the frames of one message from `FrameCodec.read`, in order. */
export interface FrameReader {
  /**
   * A publish whose pulse arrived as protobuf bytes (a view into the message, valid
   * during the call): the node decodes them and forwards them without re-encoding.
   * `anycast` is the publish's anycast target, its vector already a copy.
   */
  publish(
    correlationId: number,
    ack: number,
    pulse: Uint8Array,
    consumed?: Record<string, number>,
    anycast?: WireAnycastTarget,
  ): void;
  /** Any other frame, decoded; with the JSON codec every frame, publishes included. */
  frame(frame: IFrame, kind: string): void;
  /** One frame of the message could not be read; the others still are. */
  error(error: BusError): void;
}

/** One outbound transport message under construction. */
export interface OutboundBatch {
  /** True once the batch reached its target size: send it before adding more. */
  readonly full: boolean;
  /** Frames in the message `finish` returned last. */
  readonly lastCount: number;
  /** Adds a frame. */
  addFrame(frame: IFrame): void;
  /** Adds `Frame{deliver{subscriptionId, pulse}}`. */
  addDeliver(subscriptionId: number, pulse: DeliveryPulse): void;
  /** The message (one frame unwrapped, several as a batch) or null when empty; resets. */
  finish(): WireMessage | null;
  /**
   * Binary batches only: the size of the message `finishInto` writes (0 when empty), so
   * a transport can have it written into its own buffer instead of `finish`.
   */
  readonly encodedLength?: number;
  /** Binary batches only: writes the message at `at` in `buf`, and resets. */
  finishInto?(buf: Uint8Array, at: number): void;
  /** Binary batches only: forgets the frames (a transport refused the message). */
  discard?(): void;
}

/**
 * Encodes and decodes the frames of one wire format.
 *
 * @example
 * ```ts
 * import { codecOf, frameCodec } from "./frame_codec.ts";
 *
 * const json = frameCodec("json");
 * const message = json.encode({ ping: { nonce: 7 } }); // '{"ping":{"nonce":"7"}}'
 * const frame = codecOf(message).decode(message); // frame.kind === "ping"
 * ```
 */
export interface FrameCodec {
  /** The format's short name. */
  readonly format: WireFormat;
  /** The WebSocket subprotocol that selects it. */
  readonly subprotocol: string;
  /** Size of a message: bytes, or UTF-16 code units for text (the frame limit counts it). */
  sizeOf(message: WireMessage): number;
  /** Decodes one message (a frame or a batch); throws `BusError` with the code to answer. */
  decode(message: WireMessage): IFrame;
  /** Encodes one frame as one message. */
  encode(frame: IFrame): WireMessage;
  /**
   * The reality the message's first publish goes to, by a cheap look rather than a
   * decode (for the ingress scheduler); undefined when it does not start with a publish,
   * "" for the default reality.
   */
  peekPublishReality(message: WireMessage): string | undefined;
  /**
   * The lane number the message's first publish names (0: none), by a cheap look: the
   * ingress scheduler runs critical messages first. Looked at only when a message waits.
   */
  peekPublishLane(message: WireMessage): number;
  /**
   * Hands the message's frames to `reader`, a batch's members in order. Returns false,
   * having read nothing, when the message cannot be read as a whole: `decode` says why.
   */
  read(message: WireMessage, reader: FrameReader): boolean;
  /** Starts an outbound message aiming at `maxBytes` (the JSON codec has fixed bounds). */
  batch(maxBytes: number): OutboundBatch;
}

/** The member name of a (possibly plain-object) frame, or undefined when none is set. */
export function frameKind(frame: IFrame): string | undefined {
  if (frame.kind) return frame.kind;
  for (const key of Object.keys(frame)) {
    if ((frame as Record<string, unknown>)[key] != null) return key;
  }
  return undefined;
}

const nestedBatch = () => new BusError("PROTOCOL_VIOLATION", "batches do not nest");

/**
 * Hands a decoded message to `reader`: its frame, or a batch's members in order (a
 * member that is itself a batch, or carries nothing known, is reported as an error).
 */
export function readDecoded(frame: IFrame, reader: FrameReader): void {
  if (frame.kind !== "batch") return reader.frame(frame, frame.kind!);
  for (const inner of frame.batch?.frames ?? []) {
    const kind = frameKind(inner);
    if (kind === "batch") reader.error(nestedBatch());
    else if (!kind) {
      reader.error(new BusError("UNKNOWN_FRAME", "batched frame carries no known frame type"));
    } else reader.frame(inner, kind);
  }
}

function asBusError(err: unknown): BusError {
  return err instanceof BusError ? err : new BusError("INVALID_FRAME", String(err));
}

/**
 * The `FrameVisitor` `scanFrames` calls, forwarding to the current reader. One instance
 * serves every read: no allocation per message. `read` saves and restores `reader`, so a
 * read started from inside a reader callback is safe.
 */
class ReaderVisitor implements FrameVisitor {
  reader: FrameReader | null = null;
  publish(
    correlationId: number,
    ack: number,
    pulse: Uint8Array,
    consumed?: Record<string, number>,
    anycast?: WireAnycastTarget,
  ): void {
    this.reader!.publish(correlationId, ack, pulse, consumed, anycast);
  }
  other(bytes: Uint8Array): void {
    let frame: IFrame;
    try {
      frame = decodeFrame(bytes);
    } catch (err) {
      return this.reader!.error(asBusError(err));
    }
    if (frame.kind === "batch") return this.reader!.error(nestedBatch());
    this.reader!.frame(frame, frame.kind!);
  }
  nestedBatch(): void {
    this.reader!.error(nestedBatch());
  }
}

/** Outbound message of a protobuf connection: deliveries copy pulse bytes, never encode. */
class ProtoBatch implements OutboundBatch {
  readonly #builder = new BatchBuilder();
  readonly #max: number;
  lastCount = 0;
  constructor(max: number) {
    this.#max = max;
  }
  get full(): boolean {
    return this.#builder.byteLength >= this.#max;
  }
  addFrame(frame: IFrame): void {
    this.#builder.addFrame(encodeFrame(frame));
  }
  addDeliver(subscriptionId: number, pulse: DeliveryPulse): void {
    const [head, tail] = pulse.parts;
    this.#builder.addDeliver(subscriptionId, head, tail);
  }
  finish(): Uint8Array | null {
    this.lastCount = this.#builder.count;
    return this.lastCount === 0 ? null : this.#builder.finish();
  }
  get encodedLength(): number {
    return this.#builder.count === 0 ? 0 : this.#builder.encodedLength;
  }
  finishInto(buf: Uint8Array, at: number): void {
    this.lastCount = this.#builder.count;
    this.#builder.finishInto(buf, at);
  }
  discard(): void {
    this.lastCount = this.#builder.count;
    this.#builder.reset();
  }
}

// A JSON message holds at most this many frames, or about this many bytes.
const JSON_MAX_FRAMES = 256;
const JSON_MAX_BYTES = 256 * 1024;

/** Outbound message of a JSON connection; sizes are estimates (nothing is encoded yet). */
class JsonBatch implements OutboundBatch {
  #frames: Record<string, unknown>[] = [];
  #bytes = 0;
  lastCount = 0;
  get full(): boolean {
    return this.#frames.length >= JSON_MAX_FRAMES || this.#bytes >= JSON_MAX_BYTES;
  }
  addFrame(frame: IFrame): void {
    this.#frames.push(frameToJsonObject(frame));
    this.#bytes += 64;
  }
  addDeliver(subscriptionId: number, pulse: DeliveryPulse): void {
    this.#frames.push({ deliver: { subscriptionId, pulse: pulse.json } });
    this.#bytes += pulse.size * 1.4;
  }
  finish(): string | null {
    const frames = this.#frames;
    this.lastCount = frames.length;
    this.#frames = [];
    this.#bytes = 0;
    if (frames.length === 0) return null;
    return JSON.stringify(frames.length === 1 ? frames[0] : { batch: { frames } });
  }
}

/**
 * The members of `{"batch": {"frames": [...]}}` (either field name, `frames` may be null),
 * or undefined when `value` is not exactly a batch frame (then it is read whole).
 */
function batchMembers(value: unknown): readonly unknown[] | undefined {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return undefined;
  const keys = Object.keys(value);
  if (keys.length !== 1 || keys[0] !== "batch") return undefined;
  const batch = (value as { batch: unknown }).batch;
  if (batch === null || typeof batch !== "object" || Array.isArray(batch)) return undefined;
  const inner = Object.keys(batch);
  if (inner.length === 0) return [];
  if (inner.length !== 1 || inner[0] !== "frames") return undefined;
  const frames = (batch as { frames: unknown }).frames;
  if (frames === null) return [];
  return Array.isArray(frames) ? frames : undefined;
}

const notText = () => new BusError("INVALID_FRAME", "a JSON frame must be a text message");
const notBinary = () => new BusError("INVALID_FRAME", "a protobuf frame must be a binary message");

/** The `arqon.v1.proto` codec: binary messages, hand-written envelopes on the hot path. */
class ProtoCodec implements FrameCodec {
  readonly format = "proto" as const;
  readonly subprotocol = "arqon.v1.proto";
  readonly #visitor = new ReaderVisitor();
  sizeOf(message: WireMessage): number {
    return typeof message === "string" ? message.length : message.byteLength;
  }
  decode(message: WireMessage): IFrame {
    if (typeof message === "string") throw notBinary();
    return decodeFrame(message);
  }
  encode(frame: IFrame): Uint8Array {
    return encodeFrame(frame);
  }
  peekPublishReality(message: WireMessage): string | undefined {
    return typeof message === "string" ? undefined : peekPublishReality(message);
  }
  peekPublishLane(message: WireMessage): number {
    return typeof message === "string" ? 0 : peekPublishLane(message);
  }
  read(message: WireMessage, reader: FrameReader): boolean {
    if (typeof message === "string") return false;
    const visitor = this.#visitor;
    const outer = visitor.reader;
    visitor.reader = reader;
    try {
      return scanFrames(message, visitor);
    } finally {
      visitor.reader = outer;
    }
  }
  batch(maxBytes: number): OutboundBatch {
    return new ProtoBatch(maxBytes);
  }
}

/** The `arqon.v1.json` codec: text messages in the canonical proto3 JSON mapping. */
class JsonCodec implements FrameCodec {
  readonly format = "json" as const;
  readonly subprotocol = "arqon.v1.json";
  sizeOf(message: WireMessage): number {
    return typeof message === "string" ? message.length : message.byteLength;
  }
  decode(message: WireMessage): IFrame {
    if (typeof message !== "string") throw notText();
    return decodeFrameJson(message);
  }
  encode(frame: IFrame): string {
    return JSON.stringify(frameToJsonObject(frame));
  }
  peekPublishReality(message: WireMessage): string | undefined {
    if (typeof message !== "string" || !message.includes('"publish"')) return undefined;
    const m = /"reality(?:Id|_id)"\s*:\s*"([^"\\]*)"/.exec(message);
    return m ? m[1] : "";
  }
  peekPublishLane(message: WireMessage): number {
    if (typeof message !== "string") return 0;
    const m = /"lane"\s*:\s*"?(LANE_CRITICAL|LANE_BULK|2|3)\b/.exec(message);
    return m === null ? 0 : m[1] === "LANE_CRITICAL" || m[1] === "2" ? 2 : 3;
  }
  read(message: WireMessage, reader: FrameReader): boolean {
    if (typeof message !== "string") return false;
    let value: unknown;
    try {
      value = parseJsonText(message);
    } catch (err) {
      // Not JSON at all: nothing was read (decode says why). A duplicate key: refused
      // with the frame's correlation id.
      if (!(err instanceof FrameJsonError) || err.field === "") return false;
      reader.error(err);
      return true;
    }
    if (value === null || typeof value !== "object" || Array.isArray(value)) return false;
    // A batch's members are read one by one, like protobuf batches: one bad member is
    // answered on its own (with its correlation id) and the others still go through.
    const members = batchMembers(value);
    if (members === undefined) {
      let frame: IFrame;
      try {
        frame = frameFromJson(value);
      } catch (err) {
        reader.error(asBusError(err));
        return true;
      }
      readDecoded(frame, reader);
      return true;
    }
    for (const member of members) {
      let frame: IFrame;
      try {
        frame = frameFromJson(member);
      } catch (err) {
        reader.error(asBusError(err));
        continue;
      }
      if (frame.kind === "batch") reader.error(nestedBatch());
      else reader.frame(frame, frame.kind!);
    }
    return true;
  }
  batch(_maxBytes: number): OutboundBatch {
    return new JsonBatch();
  }
}

/** The protobuf codec (`arqon.v1.proto`). */
export const PROTO_CODEC: FrameCodec = new ProtoCodec();
/** The JSON codec (`arqon.v1.json`). */
export const JSON_CODEC: FrameCodec = new JsonCodec();

/** The codec of a wire format. */
export function frameCodec(format: WireFormat): FrameCodec {
  return format === "proto" ? PROTO_CODEC : JSON_CODEC;
}

/**
 * The codec that reads a received message: text is JSON and binary is protobuf, whatever
 * the connection's subprotocol (what a session answers in is its own codec's choice).
 */
export function codecOf(message: WireMessage): FrameCodec {
  return typeof message === "string" ? JSON_CODEC : PROTO_CODEC;
}
