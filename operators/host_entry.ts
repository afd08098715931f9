/**
 * What the operator host keeps of each operator (its runners, manifest, version, lifecycle
 * status, recent failures and figures), and the status `GET /v1/operators/{name}` shows of
 * it.
 * @module
 */
import type { OperatorStatus, OperatorStatusName } from "./host_types.ts";
import type { OperatorManifest } from "./manifest.ts";
import type { OperatorRunner } from "./runner.ts";
import type { OperatorStats } from "./stats.ts";

/** One operator of a host. */
export interface Entry {
  /** Its running (or stopped) instances. */
  runners: OperatorRunner[];
  manifest: OperatorManifest;
  /** SHA-256 of the component, hex. */
  digest: string;
  /** The shipped operator it was installed from, if any. */
  builtin?: string;
  status: OperatorStatusName;
  /** Why it was quarantined, when it is. */
  reason?: string;
  /** When its recent failures happened (`Date.now()`), within the quarantine window. */
  failures: number[];
  /** Its figures, shared by its instances and kept across replacements. */
  readonly stats: OperatorStats;
}

/** The status of operator `name` kept as `e`. */
export function statusOf(name: string, e: Entry): OperatorStatus {
  const m = e.manifest;
  return {
    name,
    status: e.status,
    digest: e.digest,
    ...(e.builtin ? { builtin: e.builtin } : {}),
    reality: m.reality,
    inputs: m.inputs,
    instances: e.runners.length,
    counters: { ...e.stats.counters },
    failures_by_kind: Object.fromEntries(e.stats.failuresByKind),
    handle_ms: e.stats.latency(),
    ...(e.reason ? { reason: e.reason } : {}),
  };
}
