/// <reference lib="dom" />
/**
 * The page's only way to the node: its public HTTP API, same origin, with the admin token
 * (kept in `sessionStorage`: gone when the tab closes) as a bearer header.
 * @module
 */

import { EventSourceParserStream } from "eventsource-parser/stream";

const TOKEN_KEY = "arqon.dashboard.token";

/** The node refused the call for want of a (valid, admin) token. */
export class AuthError extends Error {
  /** 401: no or bad token; 403: a token without the needed role. */
  readonly status: number;
  /** Wraps the node's typed error. */
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

/** Any other refusal, with the node's `{"error":{"code","message"}}`. */
export class ApiError extends Error {
  /** The HTTP status. */
  readonly status: number;
  /** The node's error code, e.g. `NOT_FOUND`. */
  readonly code: string;
  /** Wraps the node's typed error. */
  constructor(status: number, code: string, message: string) {
    super(`${code}: ${message}`);
    this.status = status;
    this.code = code;
  }
}

/** The stored token, if the user gave one. */
export function token(): string | null {
  return sessionStorage.getItem(TOKEN_KEY);
}

/** Keeps (or, with null, forgets) the token for this tab. */
export function setToken(value: string | null): void {
  if (value) sessionStorage.setItem(TOKEN_KEY, value);
  else sessionStorage.removeItem(TOKEN_KEY);
}

function headers(): HeadersInit {
  const t = token();
  return t ? { authorization: `Bearer ${t}` } : {};
}

async function failure(res: Response): Promise<never> {
  let code = "HTTP_" + res.status;
  let message = res.statusText;
  try {
    const body = await res.json();
    code = body?.error?.code ?? code;
    message = body?.error?.message ?? message;
  } catch { /* not JSON: keep the status */ }
  if (res.status === 401 || res.status === 403) throw new AuthError(res.status, message);
  throw new ApiError(res.status, code, message);
}

/** GETs a JSON resource; throws `AuthError` or `ApiError` on refusal. */
export async function getJson<T>(path: string): Promise<T> {
  const res = await fetch(path, { headers: headers() });
  if (!res.ok) return failure(res);
  return await res.json() as T;
}

/** GETs a JSON resource that may not exist on this node (404/405: null). */
export async function getOptional<T>(path: string): Promise<T | null> {
  const res = await fetch(path, { headers: headers() });
  if (res.status === 404 || res.status === 405) {
    await res.body?.cancel();
    return null;
  }
  if (!res.ok) return failure(res);
  return await res.json() as T;
}

/** GETs a text resource (`/metrics`). */
export async function getText(path: string): Promise<string> {
  const res = await fetch(path, { headers: headers() });
  if (!res.ok) return failure(res);
  return await res.text();
}

/** One Server-Sent Event. */
export interface SseEvent {
  /** The event name (`pulse`, `subscribed`, `error`). */
  readonly event: string;
  /** Its data, as sent. */
  readonly data: string;
  /** Its id (a pulse's sequence). */
  readonly id: string;
}

/**
 * Reads an SSE stream with `fetch` (EventSource cannot send a bearer token) until `signal`
 * aborts or the node ends it. Parsing is `eventsource-parser`'s.
 */
export async function streamEvents(
  path: string,
  onEvent: (e: SseEvent) => void,
  signal: AbortSignal,
): Promise<void> {
  const res = await fetch(path, { headers: { ...headers(), accept: "text/event-stream" }, signal });
  if (!res.ok || !res.body) return failure(res);
  const events = res.body
    .pipeThrough(new TextDecoderStream())
    .pipeThrough(new EventSourceParserStream());
  for await (const e of events) {
    onEvent({ event: e.event ?? "message", id: e.id ?? "", data: e.data });
  }
}
