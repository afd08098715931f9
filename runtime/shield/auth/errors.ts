/**
 * Authentication and authorization failures as the protocol's typed errors (`BusError`s).
 * The Shield sends them as `Error` frames or renders them over HTTP with the status of the
 * protocol's one table (`httpStatusOf`: 401, 403, 429).
 * @module
 */
import { BusError } from "../../protocol/mod.ts";

/** 401: no credentials, or credentials that do not verify (bad signature, expired, replayed). */
export function unauthorized(message: string): BusError {
  return new BusError("UNAUTHORIZED", message);
}

/** 403: a verified principal asked for something its permissions do not grant. */
export function forbidden(message: string): BusError {
  return new BusError("FORBIDDEN", message);
}

/** 429: a rate limit refused a publish; `retryAfterMs` says when a retry has a fair chance. */
export class RateLimitedError extends BusError {
  /** Milliseconds until the bucket that refused holds enough again. */
  readonly retryAfterMs: number;
  /** Creates the error. */
  constructor(message: string, retryAfterMs: number) {
    super("RATE_LIMITED", message);
    this.retryAfterMs = retryAfterMs;
  }
}
