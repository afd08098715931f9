/**
 * Counters and histograms of the store, kept as plain numbers so the node's telemetry
 * can export them (Prometheus) without the store depending on it.
 * @module
 */
import type { HistogramView } from "../spine/mod.ts";

/** A cumulative histogram with fixed upper bounds (Prometheus `le` buckets). */
export class Histogram implements HistogramView {
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

/** The store's running counters: the plain numbers of `StoreStats`, shared by its parts. */
export interface StoreCounters {
  /** Transactions committed. */
  commits: number;
  /** Transactions rolled back. */
  commitFailures: number;
  /** Pulses received by `append`. */
  appendedPulses: number;
  /** Pulses written. */
  writtenPulses: number;
  /** Pulses removed by retention. */
  retentionDeletedPulses: number;
  /** Bytes removed by retention. */
  retentionDeletedBytes: number;
  /** History queries served. */
  historyReads: number;
  /** Pulses returned by history queries. */
  historyPulses: number;
}

/** Fresh counters, all zero. */
export function newCounters(): StoreCounters {
  return {
    commits: 0,
    commitFailures: 0,
    appendedPulses: 0,
    writtenPulses: 0,
    retentionDeletedPulses: 0,
    retentionDeletedBytes: 0,
    historyReads: 0,
    historyPulses: 0,
  };
}
