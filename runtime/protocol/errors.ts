/**
 * The one error type that crosses layers: a protocol error code plus a message. The
 * Shield turns it into an `Error` frame or an HTTP 4xx JSON body.
 * @module
 */
import type { ErrorCodeName } from "./types.ts";

/** An error with a protocol error code, e.g. `INVALID_TOPIC`. */
export class BusError extends Error {
  /** Error code name without the `ERROR_CODE_` prefix. */
  readonly code: ErrorCodeName;
  /** Creates the error. */
  constructor(code: ErrorCodeName, message: string) {
    super(message);
    this.name = "BusError";
    this.code = code;
  }
}
