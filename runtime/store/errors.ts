/**
 * Typed errors of the durable log. The node maps `code` straight onto the wire's
 * `ErrorCode` names, so a publisher sees why its durable publish failed.
 * @module
 */

/** Wire error codes the store can produce (names of `arqon.v1.ErrorCode`). */
export type StoreErrorCode =
  | "ERROR_CODE_STORAGE_FAILED"
  | "ERROR_CODE_INVALID_ARGUMENT"
  | "ERROR_CODE_NOT_FOUND";

/** A write, read or registry operation of the store failed; the process keeps running. */
export class StorageError extends Error {
  /** The wire error code to report to the client. */
  readonly code: StoreErrorCode;

  /** Creates an error with a wire code (default `ERROR_CODE_STORAGE_FAILED`). */
  constructor(
    message: string,
    code: StoreErrorCode = "ERROR_CODE_STORAGE_FAILED",
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = "StorageError";
    this.code = code;
  }
}

/**
 * The data directory cannot be opened: corrupt, not an ArqonBus store, unreadable, or in
 * use by another process. Raised at start so the node stops with a clear message instead
 * of silently starting over with an empty log.
 */
export class StoreOpenError extends Error {
  /** The path that could not be opened. */
  readonly path: string;

  /** Creates an open error for `path`. */
  constructor(path: string, message: string, options?: ErrorOptions) {
    super(`cannot open store at ${path}: ${message}`, options);
    this.name = "StoreOpenError";
    this.path = path;
  }
}
