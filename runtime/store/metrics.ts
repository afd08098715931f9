/**
 * Counters and histograms of the store, kept as plain numbers so the node's telemetry
 * can export them (Prometheus) without the store depending on it.
 * @module
 */

/** A cumulative histogram with fixed upper bounds (Prometheus `le` buckets). */
export class Histogram {
  /** Upper bounds, ascending; an implicit `+Inf` bucket follows. */
  readonly bounds: readonly number[];
  /** Observations per bucket (not cumulative), `bounds.length + 1` entries. */
  readonly counts: number[];
  /** Sum of all observations. */
  sum = 0;
  /** Number of observations. */
  count = 0;

  /** Creates a histogram with the given ascending upper bounds. */
  constructor(bounds: readonly number[]) {
    this.bounds = bounds;
    this.counts = new Array(bounds.length + 1).fill(0);
  }

  /** Records one observation. */
  observe(value: number): void {
    let i = 0;
    while (i < this.bounds.length && value > this.bounds[i]) i++;
    this.counts[i]++;
    this.sum += value;
    this.count++;
  }

  /** Cumulative counts per bound, as Prometheus exposes them (last is `+Inf`). */
  cumulative(): number[] {
    let total = 0;
    return this.counts.map((c) => (total += c));
  }
}

/** Commit latency bounds in milliseconds. */
export const COMMIT_LATENCY_BOUNDS_MS = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 1000];
/** Commit batch size bounds in pulses. */
export const BATCH_SIZE_BOUNDS = [1, 4, 16, 64, 256, 1024, 4096, 16384];

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

/** A snapshot of the store's metrics. */
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
  readonly batchSize: Histogram;
  /** Time a commit blocks, in ms (BEGIN to COMMIT, including fsync under the sync policy). */
  readonly commitLatencyMs: Histogram;
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
