/**
 * Errors of the Wasm sandbox. Each carries a stable `code` so callers (CASIL, the HTTP API,
 * metrics) can tell rejection at load time from failure at run time without parsing text.
 * @module
 */

/** Why a component was refused at load time. */
export type RejectCode =
  | "not_a_component"
  | "wrong_world"
  | "bad_core_module"
  | "unsupported_feature"
  | "memory_over_cap"
  | "start_failed"
  | "configure_failed"
  | "too_large";

/** A component refused at load time; `message` says what is wrong. */
export class ComponentRejectedError extends Error {
  /** Machine-readable reason. */
  readonly code: RejectCode;
  /** A refusal with its reason code. */
  constructor(code: RejectCode, message: string) {
    super(message);
    this.name = "ComponentRejectedError";
    this.code = code;
  }
}

/** Why a call failed at run time. */
export type TrapKind = "fuel_exhausted" | "memory_cap" | "stack_overflow" | "trap" | "bad_result";

/** A call that failed at run time; the instance that ran it has been discarded. */
export class SandboxTrapError extends Error {
  /** Machine-readable reason, used as a metric label. */
  readonly kind: TrapKind;
  /** A run-time failure of the given kind. */
  constructor(kind: TrapKind, message: string) {
    super(message);
    this.name = "SandboxTrapError";
    this.kind = kind;
  }
}
