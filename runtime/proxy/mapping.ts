/**
 * How requests and answers cross between the bus and HTTP, both ways: topic <-> path,
 * pulse headers <-> HTTP headers, and the reserved headers that carry what a pulse has no
 * field for (`http-method`, `http-query` on requests; `http-status` on replies). Pure
 * functions, so every rule is unit-tested apart from sockets.
 * @module
 */
import { BusError, topicError } from "../protocol/mod.ts";

/** Request header naming the HTTP method of a bus request (POST when absent). */
export const METHOD_HEADER = "http-method";
/** Request header carrying the query string (without `?`). */
export const QUERY_HEADER = "http-query";
/** Reply header carrying the HTTP status. */
export const STATUS_HEADER = "http-status";
/**
 * Reply header carrying the error code of the proxy's typed error reply (absent on success).
 * Not the node's `arqon-error` mark (runtime/spine/reply_marks.ts), which turns a reply into
 * an `Error` frame for the requester: a gateway's failure stays a reply, so its HTTP status
 * (502, 504...) and kind reach the caller, over the bus and through `--listen` alike.
 */
export const ERROR_HEADER = "arqon-proxy-error";
/** Reply header carrying the proxy's error kind (e.g. `upstream_timeout`). */
export const ERROR_KIND_HEADER = "arqon-error-kind";

/** Methods a bus request may name; others are refused (a method is not free text). */
const METHODS = new Set(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]);

/**
 * Headers that belong to one connection (RFC 9110 §7.6.1) or that the transport (or the
 * proxy: `accept-encoding`) sets itself: never forwarded either way.
 */
const HOP_BY_HOP = new Set([
  "accept-encoding",
  "connection",
  "keep-alive",
  "proxy-connection",
  "proxy-authenticate",
  "proxy-authorization",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  "host",
  "content-length",
  "content-type",
]);

/** Reserved names the proxy sets; a client's headers of these names are not passed on. */
const RESERVED = new Set([
  METHOD_HEADER,
  QUERY_HEADER,
  STATUS_HEADER,
  ERROR_HEADER,
  ERROR_KIND_HEADER,
]);

/**
 * The upstream path of `topic` served under `prefix` (the pattern without `.>`):
 * the segments after the prefix joined with `/`.
 *
 * @example
 * ```ts
 * import { pathOfTopic } from "./mapping.ts";
 * pathOfTopic("svc.billing.invoices.list", "svc.billing"); // "/invoices/list"
 * ```
 */
export function pathOfTopic(topic: string, prefix: string): string {
  if (!topic.startsWith(prefix + ".") || topic.length === prefix.length + 1) {
    throw new BusError("INVALID_TOPIC", `'${topic}' is not under '${prefix}.>'`);
  }
  return "/" + topic.slice(prefix.length + 1).split(".").join("/");
}

/**
 * The bus topic of an HTTP path: `/svc/billing/charge` -> `svc.billing.charge`. Throws
 * `INVALID_TOPIC` for a path whose segments are not topic segments (`[a-z0-9_-]`).
 */
export function topicOfPath(pathname: string): string {
  const trimmed = pathname.replace(/^\/+/, "").replace(/\/+$/, "");
  // A dot inside a path segment would silently become a segment boundary.
  if (trimmed.includes(".")) {
    throw new BusError("INVALID_TOPIC", `path '${pathname}': a path segment may not contain '.'`);
  }
  const topic = trimmed.split("/").join(".");
  const why = topicError(topic);
  if (why) throw new BusError("INVALID_TOPIC", `path '${pathname}': ${why}`);
  return topic;
}

/** What an upstream call is built from. */
export interface UpstreamCall {
  /** HTTP method. */
  method: string;
  /** Full URL (base + path + query). */
  url: string;
  /** Headers to send. */
  headers: Headers;
  /** Body, absent for GET/HEAD. */
  body?: Uint8Array;
}

/**
 * The upstream call of a bus request. Throws `INVALID_ARGUMENT` for a method that is not
 * one of GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS, a body on GET/HEAD, or a header
 * name or value HTTP cannot carry.
 */
export function upstreamCallOf(
  base: string,
  path: string,
  headers: Record<string, string>,
  contentType: string,
  payload: Uint8Array,
): UpstreamCall {
  const method = (headers[METHOD_HEADER] ?? "POST").toUpperCase();
  if (!METHODS.has(method)) {
    throw new BusError(
      "INVALID_ARGUMENT",
      `${METHOD_HEADER} '${headers[METHOD_HEADER]}' is not one of ${[...METHODS].join(", ")}`,
    );
  }
  const noBody = method === "GET" || method === "HEAD";
  if (noBody && payload.length > 0) {
    throw new BusError(
      "INVALID_ARGUMENT",
      `a ${method} request carries no body (${payload.length} bytes given)`,
    );
  }
  const out = new Headers();
  for (const [name, value] of Object.entries(headers)) {
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower) || RESERVED.has(lower)) continue;
    try {
      out.set(name, value);
    } catch {
      throw new BusError(
        "INVALID_ARGUMENT",
        `header '${name.slice(0, 64)}' cannot be sent over HTTP`,
      );
    }
  }
  // Bodies travel as the upstream sent them: fetch would otherwise inflate a gzip body
  // (past --max-body-bytes: the cap counts compressed bytes) and keep its content-encoding.
  out.set("accept-encoding", "identity");
  if (contentType && !noBody) {
    try {
      out.set("content-type", contentType);
    } catch {
      throw new BusError("INVALID_ARGUMENT", "content type cannot be sent over HTTP");
    }
  }
  const query = headers[QUERY_HEADER];
  const url = base.replace(/\/+$/, "") + path + (query ? "?" + query.replace(/^\?/, "") : "");
  return { method, url, headers: out, body: noBody ? undefined : payload };
}

/** The reply headers of an upstream response: `http-status` and its end-to-end headers. */
export function replyHeadersOf(response: Response): Record<string, string> {
  const out: Record<string, string> = { [STATUS_HEADER]: String(response.status) };
  for (const [name, value] of response.headers) {
    if (HOP_BY_HOP.has(name) || RESERVED.has(name)) continue;
    out[name] = value;
  }
  return out;
}

/** The pulse headers of an HTTP request going to the bus: its end-to-end headers, method and query. */
export function requestHeadersOf(req: Request, url: URL): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of req.headers) {
    if (HOP_BY_HOP.has(name) || RESERVED.has(name)) continue;
    out[name] = value;
  }
  out[METHOD_HEADER] = req.method;
  if (url.search.length > 1) out[QUERY_HEADER] = url.search.slice(1);
  return out;
}

/**
 * The HTTP status and headers of a reply pulse. A reply without `http-status` (an agent
 * answering on the bus) is a 200; one with a status outside 200-599 is a `502`.
 */
export function responseInitOf(
  headers: Record<string, string>,
  contentType: string,
): { status: number; headers: Headers } {
  const raw = headers[STATUS_HEADER];
  let status = raw === undefined ? 200 : Number(raw);
  if (!Number.isInteger(status) || status < 200 || status > 599) status = 502;
  const out = new Headers();
  for (const [name, value] of Object.entries(headers)) {
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower) || lower === STATUS_HEADER) continue;
    try {
      out.set(name, value);
    } catch { /* a header HTTP cannot carry is left out rather than failing the answer */ }
  }
  try {
    if (contentType) out.set("content-type", contentType);
  } catch { /* as above */ }
  return { status, headers: out };
}
