/**
 * Errors of the policy engine's governance API, each with the bus error code the HTTP
 * layer answers with.
 * @module
 */
import { BusError } from "../runtime/protocol/mod.ts";

/** Error code names the engine uses (from `arqon.v1.ErrorCode`). */
export type PolicyErrorCode =
  | "INVALID_ARGUMENT"
  | "UNAUTHORIZED"
  | "FORBIDDEN"
  | "NOT_FOUND"
  | "FRAME_TOO_LARGE"
  | "STORAGE_FAILED";

/** A refused governance request. */
export class PolicyError extends BusError {
  /** The bus error code name. */
  declare readonly code: PolicyErrorCode;
  /** A refusal with its bus error code. */
  constructor(code: PolicyErrorCode, message: string) {
    super(code, message);
    this.name = "PolicyError";
  }
}
