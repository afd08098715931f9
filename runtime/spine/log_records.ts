/**
 * The records a durable log takes and reports: stored pulses, history queries, reality
 * configurations with their retention rules, and the log's figures. Declared with the
 * Spine's ports so every layer can name them without importing a log implementation.
 * @module
 */

/** One stored pulse as read back: its sequence, wall time and protobuf bytes. */
export interface StoredPulse {
  /** Per-reality sequence. */
  readonly sequence: number;
  /** HLC wall time in ms. */
  readonly wallMs: number;
  /** The pulse's protobuf encoding (`arqon.v1.Pulse`). */
  readonly bytes: Uint8Array;
}

/** A history query. All bounds are inclusive; absent bounds are open. */
export interface HistoryQuery {
  /** Reality name. */
  readonly reality: string;
  /** Topic pattern (`*` one segment, `>` the rest); absent: every topic. */
  readonly pattern?: string;
  /** Lowest sequence returned. */
  readonly fromSeq?: number;
  /** Highest sequence returned. */
  readonly toSeq?: number;
  /** Earliest HLC wall time returned, ms. */
  readonly fromTimeMs?: number;
  /** Latest HLC wall time returned, ms. */
  readonly toTimeMs?: number;
  /** At most this many pulses. */
  readonly limit?: number;
}

/**
 * Which pulses of a reality are stored and for how long. A pulse is stored under the
 * first rule (in list order) whose pattern matches its topic; pulses matching no rule are
 * fire-and-forget (PRD §8.1). A limit of 0 or absent means unlimited.
 */
export interface RetentionRule {
  /** Topic pattern: `*` one segment, `>` the rest. */
  readonly pattern: string;
  /** Pulses older than this (by HLC wall time) are deleted. */
  readonly maxAgeMs?: number;
  /** At most this many pulses are kept (the newest). */
  readonly maxPulses?: number;
  /** At most this many encoded bytes are kept (the newest pulses). */
  readonly maxBytes?: number;
}

/** A reality's configuration, persisted in the log. */
export interface RealityConfig {
  /** Retention rules, first match wins. Empty: nothing is stored. */
  readonly retention: readonly RetentionRule[];
  /** Node-enforced limits (e.g. `maxPublishRate`, `maxSubscriptions`); opaque to the log. */
  readonly limits: Readonly<Record<string, number>>;
  /** Free text for operators. */
  readonly description?: string;
}

/** A configuration as given by a caller: every field optional. */
export interface RealityConfigInput {
  /** Retention rules, first match wins. @default [] */
  readonly retention?: readonly RetentionRule[];
  /** Node-enforced limits. @default {} */
  readonly limits?: Readonly<Record<string, number>>;
  /** Free text for operators. */
  readonly description?: string;
}

/** A reality as the registry reports it. */
export interface RealityInfo {
  /** The reality's name (`reality_id` on the wire). */
  readonly name: string;
  /** Its configuration. */
  readonly config: RealityConfig;
  /** Creation time, ms since the epoch. */
  readonly createdMs: number;
  /** Last committed sequence. */
  readonly lastSequence: number;
  /** Pulses currently retained. */
  readonly storedPulses: number;
  /** Encoded bytes currently retained. */
  readonly storedBytes: number;
}

/** A cumulative histogram with fixed upper bounds, as Prometheus `le` buckets read it. */
export interface HistogramView {
  /** Upper bounds, ascending; an implicit `+Inf` bucket follows. */
  readonly bounds: readonly number[];
  /** Observations per bucket (not cumulative), `bounds.length + 1` entries. */
  readonly counts: readonly number[];
  /** Sum of all observations. */
  readonly sum: number;
  /** Number of observations. */
  readonly count: number;
  /** Cumulative counts per bound (last is `+Inf`). */
  cumulative(): number[];
}

/** Per-reality storage figures. */
export interface RealityStats {
  /** Reality name. */
  readonly reality: string;
  /** Last sequence committed (stored or not). */
  readonly lastSequence: number;
  /** Pulses currently retained. */
  readonly storedPulses: number;
  /** Encoded bytes currently retained. */
  readonly storedBytes: number;
}

/** A snapshot of a durable log's metrics. */
export interface StoreStats {
  /** Transactions committed. */
  readonly commits: number;
  /** Transactions that failed and were rolled back (their appends rejected). */
  readonly commitFailures: number;
  /** Pulses received by `append` (stored or not). */
  readonly appendedPulses: number;
  /** Pulses written to the log (matched a retention rule). */
  readonly writtenPulses: number;
  /** Pulses per commit. */
  readonly batchSize: HistogramView;
  /** Time a commit blocks, in ms (BEGIN to COMMIT, including fsync under the sync policy). */
  readonly commitLatencyMs: HistogramView;
  /** Pulses removed by retention. */
  readonly retentionDeletedPulses: number;
  /** Bytes removed by retention. */
  readonly retentionDeletedBytes: number;
  /** History queries served. */
  readonly historyReads: number;
  /** Pulses returned by history queries. */
  readonly historyPulses: number;
  /** Size of the database files on disk (0 in memory). */
  readonly fileBytes: number;
  /** Per-reality figures. */
  readonly realities: readonly RealityStats[];
}

/** Receives every successful commit (for a metrics registry). */
export interface CommitObserver {
  /** A commit of `pulses` took `ms` milliseconds. */
  commit(pulses: number, ms: number): void;
}
