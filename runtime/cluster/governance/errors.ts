/**
 * The typed refusals of cluster governance: the shared store unreachable
 * (`GOVERNANCE_UNAVAILABLE`, HTTP 503), an operator's lease held elsewhere (`LEASE_HELD`,
 * HTTP 409), and the bounds (`FRAME_TOO_LARGE`, `QUOTA_EXCEEDED`).
 * @module
 */
import { BusError } from "../../protocol/mod.ts";

/** A NATS failure (timeout, no responders, closed connection) as the refusal callers get. */
export function governanceUnavailable(what: string, err: unknown): BusError {
  if (err instanceof BusError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new BusError(
    "GOVERNANCE_UNAVAILABLE",
    `cluster governance unavailable (${what}): ${message}; nothing was changed`,
  );
}

/** The lease of operator `name` is held by `holder` until `untilMs`. */
export function leaseHeld(name: string, holder: string, untilMs: number): BusError {
  return new BusError(
    "LEASE_HELD",
    `operator ${name} runs on node ${holder} (lease until ${new Date(untilMs).toISOString()})`,
  );
}
