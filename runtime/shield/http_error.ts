/**
 * HTTP rendering of bus errors: a status per error code and the JSON body
 * `{"error":{"code":"...","message":"..."}}` every 4xx/5xx response carries.
 * @module
 */
import type { ErrorCodeName } from "../protocol/mod.ts";

const STATUS: Partial<Record<ErrorCodeName, number>> = {
  INVALID_FRAME: 400,
  UNKNOWN_FRAME: 400,
  INVALID_UTF8: 400,
  INVALID_TOPIC: 400,
  INVALID_PATTERN: 400,
  INVALID_ARGUMENT: 400,
  PROTOCOL_VIOLATION: 400,
  UNSUPPORTED_SUBPROTOCOL: 400,
  UNSUPPORTED_VERSION: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  POLICY_DENIED: 403,
  NOT_FOUND: 404,
  FRAME_TOO_LARGE: 413,
  TOO_MANY_SUBSCRIPTIONS: 429,
  RATE_LIMITED: 429,
  QUOTA_EXCEEDED: 429,
  SLOW_CONSUMER: 503,
  NO_RESPONDERS: 503,
  SHUTTING_DOWN: 503,
  TIMEOUT: 504,
  STORAGE_FAILED: 507,
};

/** The HTTP status for an error code (500 for unknown ones). */
export function httpStatus(code: ErrorCodeName): number {
  return STATUS[code] ?? 500;
}

/** A JSON error response. */
export function errorResponse(
  code: ErrorCodeName,
  message: string,
  status = httpStatus(code),
): Response {
  return Response.json({ error: { code, message } }, { status });
}
