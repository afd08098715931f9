/**
 * `POST /v1/realities/{reality}/request/{topic}?stream=true`: a streamed request over HTTP,
 * answered with Server-Sent Events. Each reply is one event `reply` whose data is
 * `{"final": <bool>, "pulse": <the reply pulse in the proto3 JSON mapping>}` and whose id
 * counts the replies from 1; the stream ends after the final one. A failure after the
 * stream started (timeout between replies, a stream bound, a responder's typed error) is an
 * event `error` with `{"error": {"code", "message"}}`, then the end. Failures before any
 * reply can be sent (no responder, a refused publish) are ordinary HTTP errors: the first
 * event is only written once the request has been published.
 * @module
 */
import type { Context } from "hono";
import { streamSSE } from "hono/streaming";
import { BusError, type IPulse, pulseToJsonObject } from "../protocol/mod.ts";
import { requestStream, type Spine } from "../spine/mod.ts";
import type { NodeMetrics } from "../telemetry/mod.ts";

/** What the streamed request route needs from the HTTP API. */
export interface StreamRouteOptions {
  /** Where the request goes. */
  readonly spine: Spine;
  /** Counts requests by outcome and the stream bounds that bite. */
  readonly metrics: Pick<NodeMetrics, "requests"> & Partial<Pick<NodeMetrics, "limitHits">>;
  /**
   * Replies one stream may carry.
   * @default {10000}
   */
  readonly maxReplies?: number;
  /**
   * Payload bytes one stream may carry.
   * @default {16777216}
   */
  readonly maxBytes?: number;
}

type SseEvent = { event: string; data: string; id?: string };

/**
 * Answers a streamed request as SSE. `pulse` is the admitted request pulse, `timeoutMs`
 * the longest wait between two replies.
 */
export async function streamRequest(
  c: Context,
  opts: StreamRouteOptions,
  pulse: IPulse,
  producerId: string,
  timeoutMs: number,
): Promise<Response> {
  // Replies that arrive before the SSE stream is open wait here (the route must be able to
  // answer NO_RESPONDERS or POLICY_DENIED as a plain HTTP error until publication).
  const queued: SseEvent[] = [];
  let write: ((e: SseEvent) => void) | undefined;
  let count = 0;
  const emit = (e: SseEvent) => write ? write(e) : queued.push(e);
  const client = new AbortController();
  let published!: () => void;
  const publication = new Promise<void>((resolve) => published = resolve);
  const finished = requestStream(opts.spine, pulse, producerId, {
    timeoutMs,
    maxReplies: opts.maxReplies ?? 10_000,
    maxBytes: opts.maxBytes ?? 16 * 1024 * 1024,
    signal: client.signal,
    onPublished: () => published(),
    onLimit: (which) => opts.metrics.limitHits?.labels(which).inc(),
  }, (reply, final) => {
    emit({
      event: "reply",
      id: String(++count),
      data: JSON.stringify({ final, pulse: pulseToJsonObject(reply) }),
    });
  });
  // Until the request is published a failure (no responder, a policy's refusal) is still
  // an HTTP error with its status; after, it is an SSE `error` event.
  const early = await Promise.race([
    finished.then(() => undefined, (err: unknown) => ({ err })),
    publication.then(() => undefined),
  ]);
  if (early !== undefined) {
    const e = early.err;
    if (e instanceof BusError) opts.metrics.requests.labels(e.code.toLowerCase()).inc();
    throw e;
  }
  return streamSSE(c, async (stream) => {
    stream.onAbort(() => client.abort(new BusError("UNSPECIFIED", "the HTTP client left")));
    let chain = Promise.resolve();
    write = (e) => {
      chain = chain.then(() => stream.writeSSE(e)).catch(() => {});
    };
    for (const e of queued.splice(0)) write(e);
    try {
      await finished;
      opts.metrics.requests.labels("ok").inc();
    } catch (err) {
      const e = err instanceof BusError ? err : new BusError("INTERNAL", String(err));
      opts.metrics.requests.labels(e.code.toLowerCase()).inc();
      if (!client.signal.aborted) {
        write({
          event: "error",
          data: JSON.stringify({ error: { code: e.code, message: e.message } }),
        });
      }
    }
    await chain;
  });
}
