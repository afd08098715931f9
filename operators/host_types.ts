/**
 * The shapes the operator host shares with the node, its HTTP routes, the cluster and
 * replay: statuses, changes as shared with a cluster, kept versions, the host's options.
 * @module
 */
import type { Engine, GuestLogger } from "../runtime/sandbox/mod.ts";
import type { ControlParams, OperatorStateStore, Spine } from "../runtime/spine/mod.ts";
import type { AuditLog } from "../runtime/telemetry/mod.ts";
import type { OperatorOptions } from "./config.ts";
import type { OperatorManifest } from "./manifest.ts";
import type { OperatorCounters, OperatorStats } from "./stats.ts";

/**
 * Where an operator is in its lifecycle. `standby`: in a cluster, meant to run but running
 * on another node (the holder of its lease); this node takes over if that node goes.
 */
export type OperatorStatusName = "running" | "quarantined" | "stopped" | "standby";

/** An operator change as it is shared with the other nodes of a cluster. */
export interface OperatorChange {
  /** The operator. */
  readonly name: string;
  /** Its manifest (with `builtin` when shipped), or null when it was deleted. */
  readonly manifest: Record<string, unknown> | null;
  /** SHA-256 of the component (hex), with the manifest. */
  readonly digest?: string;
  /** The component's bytes, with the manifest. */
  readonly component?: Uint8Array;
}

/** What `GET /v1/operators/{name}` shows of an operator. */
export interface OperatorStatus {
  readonly name: string;
  readonly status: OperatorStatusName;
  /** SHA-256 of the component, hex. */
  readonly digest: string;
  /** The shipped operator it was installed from, if any. */
  readonly builtin?: string;
  readonly reality: string;
  readonly inputs: readonly string[];
  /** Parallel instances. */
  readonly instances: number;
  readonly counters: OperatorCounters;
  /** Failed pulses by kind. */
  readonly failures_by_kind: Record<string, number>;
  /** `handle` latency percentiles, ms. */
  readonly handle_ms: { p50: number; p99: number };
  /** Why it was quarantined, when it is. */
  readonly reason?: string;
}

/** What an {@linkcode OperatorHost} needs from the node. */
export interface OperatorHostOptions extends Partial<OperatorOptions> {
  readonly spine: Spine;
  readonly store: OperatorStateStore;
  /** The node's sandbox engine (checks components at publication). */
  readonly engine: Engine;
  /** Where components and manifests are kept; null keeps them in memory. */
  readonly dir: string | null;
  readonly audit?: AuditLog;
  /** The node's control parameters, handed to operators through `on-control`. */
  readonly control?: ControlParams;
  readonly log?: GuestLogger;
  /** @default 16 */
  readonly maxHops?: number;
  /**
   * Shares each install, replace and delete with the cluster before it takes effect; a
   * rejection refuses the change.
   */
  readonly replicate?: (change: OperatorChange) => Promise<void>;
  /**
   * Whether this node may run operator `name` now (a cluster node: it holds the lease).
   * When false, an operator meant to run waits in `standby`. Absent: always.
   */
  readonly mayRun?: (name: string) => boolean;
  /**
   * Called before an operator in standby starts on this node (a cluster node took its lease
   * over): brings the operator's committed state here, and its inputs from after it. A
   * rejection keeps it in standby.
   */
  readonly beforeRun?: (name: string, manifest: OperatorManifest) => Promise<void>;
}

/** One operator's figures, for the metrics exporter. */
export interface OperatorFigures {
  readonly name: string;
  readonly status: OperatorStatusName;
  readonly stats: OperatorStats;
}

/** An install or replacement of an operator, as replay keeps it (versions by digest). */
export interface OperatorVersion {
  readonly name: string;
  readonly reality: string;
  /** SHA-256 of the component, hex. */
  readonly digest: string;
  readonly component: Uint8Array;
  readonly manifest: OperatorManifest;
  /** The reality's sequence when it took over: inputs after it are its. */
  readonly sequence: number;
  /** True for a first install (before it, the operator was absent). */
  readonly created: boolean;
}
