/**
 * Errors of the Wasm sandbox. Both are {@linkcode BusError}s (so a layer that only knows the
 * bus's error model can still answer them) and carry a stable sandbox-level reason, so
 * adapters (CASIL, the operator host) and metrics can tell refusal at load time from failure
 * at run time without parsing text.
 * @module
 */
import { BusError } from "../protocol/mod.ts";

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

/**
 * A component refused at load time; `message` says what is wrong, `reason` says it for
 * machines. Its bus code is `INVALID_ARGUMENT`: the guest, as given, is bad input.
 */
export class ComponentRejectedError extends BusError {
  /** Machine-readable reason of the refusal. */
  readonly reason: RejectCode;
  /** A refusal with its reason. */
  constructor(reason: RejectCode, message: string) {
    super("INVALID_ARGUMENT", message);
    this.name = "ComponentRejectedError";
    this.reason = reason;
  }
}

/**
 * Why a call failed at run time: the fuel ran out, a `memory.grow` passed the cap, the guest
 * recursed too deep, executed `unreachable`, trapped otherwise (`trap`: division by zero, an
 * out-of-bounds access, a host function that threw...), or returned a result the adapter
 * cannot read (`bad_result`).
 */
export type TrapKind =
  | "fuel_exhausted"
  | "memory_cap"
  | "stack_overflow"
  | "unreachable"
  | "trap"
  | "bad_result";

/**
 * A call that failed at run time; the instance that ran it has been discarded. Its bus code
 * is `INTERNAL`: adapters translate it for their world (CASIL denies the pulse).
 */
export class SandboxTrapError extends BusError {
  /** Machine-readable reason, used as a metric label. */
  readonly kind: TrapKind;
  /** A run-time failure of the given kind. */
  constructor(kind: TrapKind, message: string) {
    super("INTERNAL", message);
    this.name = "SandboxTrapError";
    this.kind = kind;
  }
}
