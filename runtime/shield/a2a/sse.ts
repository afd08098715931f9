/**
 * The SSE body of `SendStreamingMessage` (A2A 1.0 section 9.4.2): each event a
 * `data:` line holding a JSON-RPC response whose `result` is a `StreamResponse`. A caller
 * that does not read is not buffered for without bound: past `MAX_STREAM_BACKLOG` unread
 * events its stream ends with a JSON-RPC error event (the task goes on; `GetTask` reads it).
 * @module
 */
import type { Json } from "./model.ts";
import { RPC_ERRORS, RpcError, rpcError, type RpcId, rpcResult } from "./rpc.ts";
import type { TaskEntry } from "./tasks.ts";

/** Unread events one stream may hold. */
export const MAX_STREAM_BACKLOG = 256;

const encoder = new TextEncoder();

/** A stream of `entry`'s events answering request `id`; `first` is sent before any. */
export function taskEventStream(entry: TaskEntry, id: RpcId, first: Json): {
  body: ReadableStream<Uint8Array>;
  /** Ends the stream unsent (the call could not start). */
  abort: () => void;
} {
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  let open = true;
  const end = () => {
    if (!open) return;
    open = false;
    entry.listeners.delete(listener);
    try {
      controller.close();
    } catch {
      // Already canceled by the reader.
    }
  };
  const send = (value: Json) =>
    controller.enqueue(encoder.encode(`data: ${JSON.stringify(value)}\n\n`));
  const listener = (response: Json, final: boolean) => {
    if (!open) return;
    if ((controller.desiredSize ?? 0) <= -MAX_STREAM_BACKLOG) {
      send(rpcError(
        id,
        new RpcError(
          RPC_ERRORS.INTERNAL,
          `the stream fell ${MAX_STREAM_BACKLOG} events behind; read the task with GetTask`,
          "SLOW_CONSUMER",
        ),
      ));
      return end();
    }
    send(rpcResult(id, response));
    if (final) end();
  };
  const body = new ReadableStream<Uint8Array>({
    start(c) {
      controller = c;
    },
    cancel() {
      open = false;
      entry.listeners.delete(listener);
    },
  }, { highWaterMark: 0 });
  send(rpcResult(id, first));
  entry.listeners.add(listener);
  return { body, abort: end };
}
