/**
 * Extension points of the Spine's publish path. The CASIL policy engine plugs in as a
 * `PulseGuard`, the durable log as a `PulseLog`. Both are optional: without them the
 * Spine is an in-memory router.
 * @module
 */
import type { arqon, ErrorCodeName } from "../protocol/mod.ts";

/** What a guard decided about one pulse before it is sequenced. */
export type GuardVerdict =
  | { readonly allow: true; readonly payload?: Uint8Array }
  | {
    readonly allow: false;
    /** Error code sent to the publisher, e.g. `POLICY_DENIED`. */
    readonly code: ErrorCodeName;
    readonly reason: string;
  };

/**
 * Inspects every pulse before it is sequenced (fail-closed: a thrown error denies).
 * `pulse` carries topic, reality, producer, headers, content type and payload; a verdict
 * with `payload` replaces the payload for subscribers (redaction).
 */
export interface PulseGuard {
  inspect(pulse: arqon.v1.IPulse): GuardVerdict | Promise<GuardVerdict>;
}

/**
 * The durable log under the Spine. `append` receives pulses already stamped with id,
 * sequence and timestamp, in sequence order per reality, and resolves when they are
 * committed under the log's sync policy. The Spine acknowledges `durable` publishes
 * only after that promise resolves.
 */
export interface PulseLog {
  /**
   * `entries` carry each pulse with its protobuf encoding; a `StampedPulse` fits, and the
   * log reads `bytes` only for pulses a retention rule stores.
   */
  append(
    entries: readonly { readonly pulse: arqon.v1.IPulse; readonly bytes: Uint8Array }[],
  ): Promise<void>;
  /** The last committed sequence of a reality, so sequences continue after a restart. */
  lastSequence(realityId: string): number;
  /** HLC wall time of the last committed pulse of a reality; the clock never goes below it. */
  lastWallMs?(realityId: string): number;
  /** Pulses of a reality with `from <= sequence <= to`, in sequence order. */
  read(realityId: string, from: number, to: number, limit: number): arqon.v1.IPulse[];
}
