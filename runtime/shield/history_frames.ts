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

function varint(out: number[], value: number): void {
  while (value > 0x7f) {
    out.push((value % 0x80) | 0x80);
    value = Math.floor(value / 0x80);
  }
  out.push(value);
}

/** Encodes `Frame { history_chunk: { correlation_id, pulses, done } }` from pulse bytes. */
export function encodeHistoryChunkFrame(
  correlationId: number,
  pulses: readonly Uint8Array[],
  done: boolean,
): Uint8Array {
  const head: number[] = [];
  let body = 0;
  const prefixes: number[][] = [];
  if (correlationId > 0) {
    head.push(0x08);
    varint(head, correlationId);
  }
  for (const p of pulses) {
    const prefix = [0x12];
    varint(prefix, p.length);
    prefixes.push(prefix);
    body += prefix.length + p.length;
  }
  const tail = done ? [0x18, 0x01] : [];
  body += head.length + tail.length;
  const frameHead = [0xaa, 0x01]; // field 21, length-delimited
  varint(frameHead, body);
  const out = new Uint8Array(frameHead.length + body);
  out.set(frameHead, 0);
  let at = frameHead.length;
  out.set(head, at);
  at += head.length;
  pulses.forEach((p, i) => {
    out.set(prefixes[i], at);
    at += prefixes[i].length;
    out.set(p, at);
    at += p.length;
  });
  out.set(tail, at);
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
      sink.send(encodeHistoryChunkFrame(correlationId, pending, done));
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
