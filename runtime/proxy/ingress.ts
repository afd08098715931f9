/**
 * HTTP -> bus: the listener's handler. `POST /svc/billing/charge` becomes a request on
 * `svc.billing.charge` (headers, method and query carried as pulse headers), and the
 * reply becomes the HTTP answer (`http-status` header, else 200). Errors answer with the
 * node's JSON error shape: `NO_RESPONDERS` 503, `TIMEOUT` 504, a body past the cap 413.
 * `GET /metrics` is the proxy's Prometheus text.
 * @module
 */
import type { ArqonClient } from "../client/mod.ts";
import { BusError, httpStatusOf } from "../protocol/mod.ts";
import { readCapped } from "./body.ts";
import { errorBody, ProxyError } from "./errors.ts";
import { ERROR_KIND_HEADER, requestHeadersOf, responseInitOf, topicOfPath } from "./mapping.ts";
import type { ProxyMetrics } from "./metrics.ts";
import type { ProxyOptions } from "./options.ts";

const DIRECTION = "http_to_bus";
/** Statuses whose response has no body (the Fetch standard refuses one). */
const NULL_BODY = new Set([101, 103, 204, 205, 304]);

/** The listener's request handler. */
export function ingressHandler(
  client: ArqonClient,
  options: ProxyOptions,
  metrics: ProxyMetrics,
): (req: Request) => Promise<Response> {
  return async (req) => {
    const url = new URL(req.url);
    if (url.pathname === "/metrics" && req.method === "GET") {
      return new Response(await metrics.registry.metrics(), {
        headers: { "content-type": metrics.registry.contentType },
      });
    }
    const startedAt = performance.now();
    try {
      const topic = topicOfPath(url.pathname);
      const body = await readBody(req, options.maxBodyBytes, options.requestTimeoutMs);
      if (!client.isConnected) {
        throw new ProxyError("bus_unavailable", "the proxy is reconnecting to the node");
      }
      const reply = await client.request(topic, body, {
        reality: options.reality,
        headers: requestHeadersOf(req, url),
        contentType: req.headers.get("content-type") ?? "",
        timeoutMs: options.requestTimeoutMs,
      }).catch((err) => {
        // The connection dropped under the request: the node may never have seen it.
        if (err instanceof BusError && err.code === "INTERNAL" && !client.isConnected) {
          throw new ProxyError("bus_unavailable", err.message);
        }
        throw err;
      });
      const headers = reply.headers ?? {};
      const init = responseInitOf(headers, reply.contentType ?? "");
      metrics.done(DIRECTION, startedAt, headers[ERROR_KIND_HEADER]);
      const payload = reply.payload ?? new Uint8Array(0);
      return new Response(
        NULL_BODY.has(init.status) ? null : payload as Uint8Array<ArrayBuffer>,
        init,
      );
    } catch (err) {
      return errorResponse(err, metrics, startedAt);
    }
  };
}

function errorResponse(err: unknown, metrics: ProxyMetrics, startedAt: number): Response {
  let code = "INTERNAL";
  let kind: string;
  let status = 500;
  let message = String((err as Error)?.message ?? err);
  if (err instanceof ProxyError) {
    [code, kind, status] = [err.code, err.kind, err.status];
  } else if (err instanceof BusError) {
    [code, kind, status] = [err.code, err.code.toLowerCase(), httpStatusOf(err.code)];
  } else {
    kind = "internal";
    message = `proxy failure: ${message}`;
  }
  metrics.done(DIRECTION, startedAt, kind);
  return new Response(errorBody(code, message), {
    status,
    headers: { "content-type": "application/json" },
  });
}

/**
 * The request's body, refused past `max` bytes (declared or streamed) with a 413, and
 * with a 408 when it does not arrive within `timeoutMs` (a trickling sender would
 * otherwise hold its connection and memory for as long as it likes).
 */
async function readBody(req: Request, max: number, timeoutMs: number): Promise<Uint8Array> {
  const tooLarge = () =>
    new ProxyError("body_too_large", `the request body is larger than ${max} bytes`);
  if (Number(req.headers.get("content-length") ?? "0") > max) throw tooLarge();
  const deadline = new AbortController();
  const timer = setTimeout(
    () =>
      deadline.abort(
        new ProxyError("body_timeout", `the request body did not arrive within ${timeoutMs} ms`),
      ),
    timeoutMs,
  );
  try {
    return await readCapped(req.body, max, tooLarge, deadline.signal);
  } finally {
    clearTimeout(timer);
  }
}
