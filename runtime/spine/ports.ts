/**
 * The Spine's ports: what it needs from the layers plugged into its publish path. The
 * CASIL policy engine plugs in as a `PulseGuard`, the durable log as a `PulseLog`. Both
 * are optional: without them the Spine is an in-memory router. `DurableLog` is the whole
 * surface of a log that the other layers (edge routes, history, replay, metrics, the
 * node's wiring) use, so an implementation (embedded SQLite, JetStream) can be swapped
 * without them knowing.
 * @module
 */
import type { arqon, ErrorCodeName } from "../protocol/mod.ts";
import type {
  CommitObserver,
  HistoryQuery,
  RealityInfo,
  StoredPulse,
  StoreStats,
} from "./log_records.ts";
import type { ControlParamStore } from "./control_params.ts";

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
  /** Decides about one pulse. */
  inspect(pulse: arqon.v1.IPulse): GuardVerdict | Promise<GuardVerdict>;
  /**
   * Optional: decides `pulses[0..count)`, the publishes of one received message in order
   * (none sequenced yet, all from `producerId`), together, so that a policy can decide many
   * in one call. `inspect` then answers each of these same pulse objects from what was
   * decided here, until {@linkcode PulseGuard.clearAhead}. A guard without it is asked
   * pulse by pulse.
   */
  inspectAhead?(pulses: readonly arqon.v1.IPulse[], count: number, producerId: string): void;
  /**
   * With `inspectAhead`: how many publishes a session should hold for one call of it (the
   * guard keeps the synchronous work of one call short: sessions read a message in slices).
   */
  readonly aheadLimit?: number;
  /** Forgets what {@linkcode PulseGuard.inspectAhead} decided. */
  clearAhead?(): void;
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
  /** Whether the log knows a reality (counted against `--max-realities`). */
  hasReality?(realityId: string): boolean;
  /** How many realities the log knows (counted against `--max-realities`). */
  realityCount?(): number;
}

/**
 * Where a cluster node's pulses are sequenced and fanned out (`--cluster`): the Spine
 * stamps a pulse (id, time, producer; sequence 0) and hands it to the fabric instead of
 * sequencing, logging and routing it itself. The fabric assigns the reality's sequence
 * (JetStream: the stream sequence, gapless across nodes) and brings every pulse of a
 * reality back to each node in sequence order through `Spine.deliver`, which logs and
 * routes it there. Without a fabric (embedded node) nothing of this runs.
 */
export interface PulseFabric {
  /** Throws `BusError` (CLUSTER_UNAVAILABLE) when a pulse cannot be stored now. */
  admit(realityId: string): void;
  /**
   * Stores one stamped pulse (`pulse.sequence` is 0); resolves with the sequence it was
   * given once the store acknowledged it (replicated), rejects with a `BusError` otherwise.
   * `unacked` (nobody waits for the acknowledgement): sent without waiting for the store's
   * ack, resolving with 0 at once.
   */
  publish(pulse: arqon.v1.IPulse, bytes: Uint8Array, unacked?: boolean): Promise<number>;
  /** A reality is in use on this node: bring its pulses after `lastSequence` here. */
  open(realityId: string, lastSequence: number): void;
  /**
   * A subscription opened on this node: the fabric announces the interest (requests from
   * other nodes find it) and, for a queue group, shares the group's pulses with the other
   * nodes' members (each pulse to one member cluster-wide, through `Spine.deliverToGroup`).
   */
  subscribed(spec: FabricSubscription): void;
  /** A subscription of this node closed (the counterpart of `subscribed`). */
  unsubscribed(spec: FabricSubscription): void;
  /** Whether any node has a subscriber for `topic` in `realityId` (requests ask before). */
  hasInterest(realityId: string, topic: string): Promise<boolean>;
}

/** What a fabric is told of a subscription. */
export interface FabricSubscription {
  /** The reality subscribed in. */
  readonly realityId: string;
  /** The topic pattern. */
  readonly pattern: string;
  /** Empty: not in a queue group. */
  readonly queueGroup: string;
}

/**
 * Durable key-value state of Tier-Ω operators, by (reality, operator): loaded when an
 * operator starts, written once per handled pulse (all of a pulse's writes or none). Writes
 * are queued behind the pulses appended to the log so far and commit in the same
 * transaction as they do: an operator appends an input pulse's outputs, then queues that
 * pulse's state writes, under one {@linkcode OperatorStateStore.holdCommits} hold.
 */
export interface OperatorStateStore {
  /** The committed entries of an operator, by key (call `flush` first to see queued writes). */
  loadOperatorState(reality: string, operator: string): [string, Uint8Array][];
  /**
   * Queues one pulse's writes (`null` deletes the key) behind the pulses appended so far;
   * resolves once committed with them, rejects (`STORAGE_FAILED`) when that commit fails.
   * `inputSequence`, when given, is the last input pulse the writes include (a cluster
   * node keeps it with the state, as the point another node resumes from).
   */
  commitOperatorState(
    reality: string,
    operator: string,
    changes: readonly (readonly [string, Uint8Array | null])[],
    inputSequence?: number,
  ): Promise<void>;
  /** Queues replacing all of an operator's state with `entries` (a restored snapshot). */
  replaceOperatorState(
    reality: string,
    operator: string,
    entries: readonly (readonly [string, Uint8Array])[],
  ): Promise<void>;
  /** Queues deleting all state of an operator. */
  dropOperatorState(reality: string, operator: string): Promise<void>;
  /**
   * Keeps the log's pending commit open until the returned release is called, so pulses
   * appended and state queued in between land in one transaction. Release promptly.
   */
  holdCommits(): () => void;
  /** Resolves once everything appended or queued so far is committed. */
  flush(): Promise<void>;
}

/**
 * A durable log as the rest of the node uses it: the Spine's `PulseLog` plus the
 * realities registry (with retention rules), history reads, figures and lifecycle.
 * Registry and read methods throw `BusError`s (`INVALID_ARGUMENT`, `NOT_FOUND`,
 * `STORAGE_FAILED`), which the edge sends to clients as they are.
 *
 * @example
 * ```ts ignore
 * import { openStore } from "../store/mod.ts";
 *
 * const log: DurableLog = openStore({ dataDir: null });
 * log.createReality("orders", { retention: [{ pattern: "orders.>", maxPulses: 1000 }] });
 * for await (const page of log.history({ reality: "orders", fromSeq: 1 })) {
 *   console.log(page.length);
 * }
 * log.close();
 * ```
 */
export interface DurableLog extends PulseLog, OperatorStateStore, ControlParamStore {
  /** HLC wall time of the last committed pulse of a reality (0 when it has none). */
  lastWallMs(realityId: string): number;
  /** Told about every successful commit; set by whoever exports metrics. */
  observer: CommitObserver | undefined;
  /** True when a pulse on `topic` in `reality` would be stored (a retention rule matches). */
  shouldStore(reality: string, topic: string): boolean;
  /** Resolves once everything appended so far is committed. */
  flush(): Promise<void>;
  /** Runs age-based retention now (it also runs on the log's own schedule). */
  enforceRetention(): void;
  /** Creates a reality; fails with `INVALID_ARGUMENT` if it exists or `config` is bad. */
  createReality(name: string, config?: unknown): RealityInfo;
  /** The reality's configuration and figures, or undefined. */
  getReality(name: string): RealityInfo | undefined;
  /** All realities, by name. */
  listRealities(): RealityInfo[];
  /**
   * Replaces a reality's configuration. Rules whose pattern is kept keep their stored
   * pulses (new limits apply at once); pulses of removed rules are deleted. Fails with
   * `NOT_FOUND` for an unknown reality.
   */
  updateReality(name: string, config: unknown): RealityInfo;
  /** Deletes a reality with all its pulses; false when it did not exist. */
  deleteReality(name: string): boolean;
  /**
   * Stored pulses of a reality, encoded, in sequence order; throws `INVALID_ARGUMENT` for
   * a bad query (so `limit: 0` validates a query without reading).
   */
  readEncoded(query: HistoryQuery): StoredPulse[];
  /**
   * Streams a history query in pages of at most `pageSize` pulses, yielding to the event
   * loop between pages so a long replay does not stall the node.
   */
  history(query: HistoryQuery, pageSize?: number): AsyncGenerator<StoredPulse[]>;
  /** A snapshot of the log's metrics. */
  stats(): StoreStats;
  /** Commits what is pending and closes the log; later appends reject. */
  close(): void;
}
