/**
 * The WebSocket answer to `history.get`: `HistoryChunk` frames built straight from the
 * stored encodings (protobuf sessions copy bytes, never re-encode), sent at the pace the
 * transport drains.
 * @module
 */
import { BusError, type IHistoryGet } from "../protocol/mod.ts";
import type { DurableLog, HistoryQuery } from "../spine/mod.ts";
import { storedPulseJson } from "./stored_json.ts";

/** The connection a history answer is written to. */
export interface HistorySink {
  /** `proto` for binary frames, `json` for text frames. */
  readonly format: "proto" | "json";
  /** Sends one transport message. */
  send(message: Uint8Array | string): void;
  /**
   * Sends one binary message written straight into the transport's frame (false:
   * refused); absent, `send` gets the encoded frame.
   */
  sendEncoded?(message: HistoryChunkMessage): boolean;
  /** Bytes waiting in the transport. */
  bufferedAmount(): number;
  /** True once the connection is gone. */
  closed(): boolean;
  /**
   * Resolves once at most `bytes` are waiting, when the transport can tell (no polling);
   * absent, the buffer level is polled every 2 ms.
   */
  drained?(bytes: number): Promise<void>;
}

/** Converts a `HistoryGet` frame into a store query (0 leaves a bound open). */
export function historyQueryFromFrame(h: IHistoryGet, defaultReality: string): HistoryQuery {
  return {
    reality: h.realityId || defaultReality,
    pattern: h.pattern || undefined,
    fromSeq: h.fromSequence || undefined,
    toSeq: h.toSequence || undefined,
    fromTimeMs: h.fromTimeMs || undefined,
    toTimeMs: h.toTimeMs || undefined,
    limit: h.limit || undefined,
  };
}

// Bytes of a varint of `value` (any safe integer: correlation ids may pass 2^32).
function varintLength(value: number): number {
  let n = 1;
  while (value > 0x7f) {
    value = Math.floor(value / 0x80);
    n++;
  }
  return n;
}

function writeVarint(out: Uint8Array, at: number, value: number): number {
  while (value > 0x7f) {
    out[at++] = (value % 0x80) | 0x80;
    value = Math.floor(value / 0x80);
  }
  out[at++] = value;
  return at;
}

/**
 * `Frame { history_chunk: { correlation_id, pulses, done } }` around stored pulse bytes,
 * written in place: each stored `Pulse` is spliced in as the embedded message it is (a
 * message field and a bytes field share wire type 2), with no decode, no re-encode and
 * no per-pulse allocation. A transport that takes it writes it straight into its frame.
 */
export class HistoryChunkMessage {
  readonly #correlationId: number;
  readonly #pulses: readonly Uint8Array[];
  readonly #done: boolean;
  readonly #body: number;
  /** Bytes of the encoded frame. */
  readonly encodedLength: number;

  /** The chunk answering `correlationId` with `pulses` (stored encodings), last if `done`. */
  constructor(correlationId: number, pulses: readonly Uint8Array[], done: boolean) {
    this.#correlationId = correlationId;
    this.#pulses = pulses;
    this.#done = done;
    let body = correlationId > 0 ? 1 + varintLength(correlationId) : 0;
    for (const p of pulses) body += 1 + varintLength(p.length) + p.length;
    if (done) body += 2;
    this.#body = body;
    this.encodedLength = 2 + varintLength(body) + body;
  }

  /** Writes the frame at `at` in `out` (at least `encodedLength` bytes from there). */
  finishInto(out: Uint8Array, at: number): void {
    out[at++] = 0xaa; // Frame.history_chunk = 21, length-delimited: key 0xaa 0x01
    out[at++] = 0x01;
    at = writeVarint(out, at, this.#body);
    if (this.#correlationId > 0) {
      out[at++] = 0x08; // HistoryChunk.correlation_id = 1, varint
      at = writeVarint(out, at, this.#correlationId);
    }
    for (const p of this.#pulses) {
      out[at++] = 0x12; // HistoryChunk.pulses = 2, length-delimited
      at = writeVarint(out, at, p.length);
      out.set(p, at);
      at += p.length;
    }
    if (this.#done) {
      out[at++] = 0x18; // HistoryChunk.done = 3
      out[at++] = 0x01;
    }
  }
}

/** Encodes `Frame { history_chunk: { correlation_id, pulses, done } }` from pulse bytes. */
export function encodeHistoryChunkFrame(
  correlationId: number,
  pulses: readonly Uint8Array[],
  done: boolean,
): Uint8Array {
  const message = new HistoryChunkMessage(correlationId, pulses, done);
  const out = new Uint8Array(message.encodedLength);
  message.finishInto(out, 0);
  return out;
}

/**
 * Streams the answer to one `history.get` into `sink`. Throws a `BusError` before
 * sending anything when the query is invalid or the reality does not exist.
 */
export async function sendHistory(
  store: DurableLog,
  query: HistoryQuery,
  correlationId: number,
  sink: HistorySink,
  options: { highWaterBytes?: number; maxChunkBytes?: number } = {},
): Promise<void> {
  const highWater = options.highWaterBytes ?? 4 * 1024 * 1024;
  const maxChunk = options.maxChunkBytes ?? 256 * 1024;
  if (store.getReality(query.reality) === undefined) {
    throw new BusError("NOT_FOUND", `no reality ${query.reality}`);
  }
  store.readEncoded({ ...query, limit: 0 });
  let pending: Uint8Array[] = [];
  let pendingBytes = 0;
  const flush = async (done: boolean) => {
    while (sink.bufferedAmount() > highWater && !sink.closed()) {
      await (sink.drained?.(highWater) ?? new Promise((resolve) => setTimeout(resolve, 2)));
    }
    if (sink.closed()) return;
    if (sink.format === "proto") {
      const message = new HistoryChunkMessage(correlationId, pending, done);
      // Straight into the transport's frame where it can take it; a refusal (over its
      // bound, closing) is what a refused `send` is: the connection is going away.
      if (sink.sendEncoded) sink.sendEncoded(message);
      else sink.send(encodeHistoryChunkFrame(correlationId, pending, done));
    } else {
      sink.send(JSON.stringify({
        historyChunk: {
          correlationId: String(correlationId),
          pulses: pending.map(storedPulseJson),
          done,
        },
      }));
    }
    pending = [];
    pendingBytes = 0;
  };
  for await (const page of store.history(query, 4096)) {
    for (const p of page) {
      pending.push(p.bytes);
      pendingBytes += p.bytes.length;
      if (pendingBytes >= maxChunk) await flush(false);
      if (sink.closed()) return;
    }
  }
  await flush(true);
}
