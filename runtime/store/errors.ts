/**
 * Typed errors of the durable log. Both are `BusError`s, so the Shield sends their code
 * (`STORAGE_FAILED`, `INVALID_ARGUMENT`, `NOT_FOUND`) to the client as it is.
 * @module
 */
import { BusError } from "../protocol/mod.ts";

/** Wire error codes the store produces (names of `arqon.v1.ErrorCode` without prefix). */
export type StoreErrorCode = "STORAGE_FAILED" | "INVALID_ARGUMENT" | "NOT_FOUND";

/** A write, read or registry operation of the store failed; the process keeps running. */
export class StorageError extends BusError {
  /** Creates an error with a wire code (default `STORAGE_FAILED`). */
  constructor(message: string, code: StoreErrorCode = "STORAGE_FAILED", options?: ErrorOptions) {
    super(code, message);
    this.name = "StorageError";
    if (options?.cause !== undefined) this.cause = options.cause;
  }
}

/**
 * The data directory cannot be opened: corrupt, not an ArqonBus store, unreadable, or in
 * use by another process. Raised at start so the node stops with a clear message instead
 * of silently starting over with an empty log.
 */
export class StoreOpenError extends BusError {
  /** The path that could not be opened. */
  readonly path: string;

  /** Creates an open error for `path` (code `STORAGE_FAILED`). */
  constructor(path: string, message: string, options?: ErrorOptions) {
    super("STORAGE_FAILED", `cannot open store at ${path}: ${message}`);
    this.name = "StoreOpenError";
    this.path = path;
    if (options?.cause !== undefined) this.cause = options.cause;
  }
}

/** The message of an unknown thrown value, for wrapping it in a `StorageError`. */
export function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
