/**
 * The one error type that crosses layers: a protocol error code plus a message. The
 * Shield turns it into an `Error` frame, or into an HTTP response whose status comes from
 * the one table here, {@linkcode httpStatusOf}.
 * @module
 */
import type { ErrorCodeValues } from "./gen/types.ts";

// `ErrorCodeName` (types.ts) is `keyof ErrorCodeValues`; named here through the generated
// interface so that this file does not import the schema (types.ts -> schema.ts ->
// errors.ts would be a cycle).

/** An error with a protocol error code, e.g. `INVALID_TOPIC`. */
export class BusError extends Error {
  /** Error code name without the `ERROR_CODE_` prefix. */
  readonly code: keyof ErrorCodeValues;
  /** Creates the error. */
  constructor(code: keyof ErrorCodeValues, message: string) {
    super(message);
    this.name = "BusError";
    this.code = code;
  }
}

/** The HTTP statuses error codes map to. */
export type HttpErrorStatus = 400 | 401 | 403 | 404 | 409 | 413 | 422 | 429 | 500 | 503 | 504 | 507;

/**
 * Every error code's HTTP status. A `Record` over all codes, so a code added to the
 * schema cannot go without a status.
 */
const HTTP_STATUS: Readonly<Record<keyof ErrorCodeValues, HttpErrorStatus>> = Object.freeze({
  UNSPECIFIED: 500,
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
  NOT_RETAINED: 409,
  ALREADY_EXISTS: 409,
  UNRELATED: 409,
  CAUSAL_GAP: 409,
  LEASE_HELD: 409,
  FRAME_TOO_LARGE: 413,
  SCHEMA_VIOLATION: 422,
  TOO_MANY_SUBSCRIPTIONS: 429,
  RATE_LIMITED: 429,
  QUOTA_EXCEEDED: 429,
  INTERNAL: 500,
  SLOW_CONSUMER: 503,
  NO_RESPONDERS: 503,
  SHUTTING_DOWN: 503,
  CLUSTER_UNAVAILABLE: 503,
  GOVERNANCE_UNAVAILABLE: 503,
  TIMEOUT: 504,
  STORAGE_FAILED: 507,
});

/**
 * The HTTP status of an error code: the one table every HTTP surface of the node
 * (the Shield's API, the policy and realities routes) answers with. Names that are not
 * error codes get 500.
 *
 * @example
 * ```ts
 * import { httpStatusOf } from "./errors.ts";
 *
 * httpStatusOf("RATE_LIMITED"); // 429
 * httpStatusOf("STORAGE_FAILED"); // 507
 * ```
 */
export function httpStatusOf(code: keyof ErrorCodeValues | string): HttpErrorStatus {
  return Object.hasOwn(HTTP_STATUS, code) ? HTTP_STATUS[code as keyof ErrorCodeValues] : 500;
}
