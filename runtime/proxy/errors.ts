/**
 * The proxy's typed errors. Each kind has a protocol error code (what a bus client reads
 * in the reply's `arqon-proxy-error` header) and the gateway HTTP status it answers with
 * (`http-status`): 502/504 are a gateway's statuses and have no protocol error code of
 * their own, so the kind carries them.
 * @module
 */
import { BusError, type ErrorCodeName } from "../protocol/mod.ts";

/** What went wrong, as the `arqon-error-kind` header and the metrics' `kind` label name it. */
export type ProxyErrorKind =
  | "upstream_timeout"
  | "upstream_unreachable"
  | "upstream_invalid"
  | "upstream_too_large"
  | "bad_request"
  | "busy"
  | "bus_unavailable"
  | "body_too_large"
  | "body_timeout";

/** Each kind's code and HTTP status. */
export const PROXY_ERRORS: Readonly<
  Record<ProxyErrorKind, { code: ErrorCodeName; status: number }>
> = Object.freeze({
  // The upstream accepted the connection but did not answer (headers or body) in time.
  upstream_timeout: { code: "TIMEOUT", status: 504 },
  // Connection refused, reset, DNS failure: nothing to talk to.
  upstream_unreachable: { code: "NO_RESPONDERS", status: 502 },
  // The upstream answered with something that is not HTTP.
  upstream_invalid: { code: "INTERNAL", status: 502 },
  // The upstream's body is larger than --max-body-bytes.
  upstream_too_large: { code: "FRAME_TOO_LARGE", status: 502 },
  // The bus request cannot become an HTTP request (method, header, body on GET).
  bad_request: { code: "INVALID_ARGUMENT", status: 400 },
  // Every upstream slot is busy and the wait queue is full.
  busy: { code: "QUOTA_EXCEEDED", status: 503 },
  // The proxy is not connected to the node (it reconnects on its own).
  bus_unavailable: { code: "NO_RESPONDERS", status: 503 },
  // An HTTP client's body is larger than --max-body-bytes.
  body_too_large: { code: "FRAME_TOO_LARGE", status: 413 },
  // An HTTP client's body did not arrive within --request-timeout-ms.
  body_timeout: { code: "TIMEOUT", status: 408 },
});

/** A proxy failure with its kind; `code` is the protocol error code of the kind. */
export class ProxyError extends BusError {
  /** The proxy's error kind. */
  readonly kind: ProxyErrorKind;
  /** The HTTP status it answers with. */
  readonly status: number;
  /** Creates the error. */
  constructor(kind: ProxyErrorKind, message: string) {
    super(PROXY_ERRORS[kind].code, message);
    this.name = "ProxyError";
    this.kind = kind;
    this.status = PROXY_ERRORS[kind].status;
  }
}

/** The JSON body of an error, the same shape as the node's HTTP errors (plus `kind`). */
export function errorBody(code: string, message: string, kind?: string): string {
  return JSON.stringify({ error: kind ? { code, kind, message } : { code, message } });
}
