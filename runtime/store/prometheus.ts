/**
 * Exports the store's metrics on the node's Prometheus registry: log size per reality,
 * commit batch size and latency histograms, retention deletions, history reads.
 * @module
 */
import client from "prom-client";
import type { DurableLog } from "../spine/mod.ts";
import { BATCH_SIZE_BOUNDS, COMMIT_LATENCY_BOUNDS_MS } from "./metrics.ts";

/** Registers the store's metric families on `registry` and feeds them from `store`. */
export function registerStoreMetrics(store: DurableLog, registry: client.Registry): void {
  const registers = [registry];
  const batch = new client.Histogram({
    name: "arqon_store_commit_batch_pulses",
    help: "Pulses per group commit.",
    buckets: BATCH_SIZE_BOUNDS,
    registers,
  });
  const latency = new client.Histogram({
    name: "arqon_store_commit_seconds",
    help: "Time a group commit takes, fsync included.",
    buckets: COMMIT_LATENCY_BOUNDS_MS.map((ms) => ms / 1000),
    registers,
  });
  store.observer = {
    commit(pulses, ms) {
      batch.observe(pulses);
      latency.observe(ms / 1000);
    },
  };
  const perReality = (
    name: string,
    help: string,
    pick: (r: ReturnType<DurableLog["stats"]>["realities"][number]) => number,
  ) =>
    new client.Gauge({
      name,
      help,
      labelNames: ["reality"],
      registers,
      collect() {
        this.reset();
        for (const r of store.stats().realities) this.labels(r.reality).set(pick(r));
      },
    });
  perReality("arqon_store_pulses", "Pulses retained in the log.", (r) => r.storedPulses);
  perReality("arqon_store_bytes", "Encoded bytes retained in the log.", (r) => r.storedBytes);
  perReality("arqon_store_last_sequence", "Last committed sequence.", (r) => r.lastSequence);
  const total = (
    name: string,
    help: string,
    pick: (s: ReturnType<DurableLog["stats"]>) => number,
  ) =>
    new client.Gauge({
      name,
      help,
      registers,
      collect() {
        this.set(pick(store.stats()));
      },
    });
  total("arqon_store_file_bytes", "Size of the database and WAL files.", (s) => s.fileBytes);
  total("arqon_store_commits_total", "Group commits.", (s) => s.commits);
  total(
    "arqon_store_commit_failures_total",
    "Failed commits (appends rejected).",
    (s) => s.commitFailures,
  );
  total(
    "arqon_store_retention_deleted_pulses_total",
    "Pulses deleted by retention.",
    (s) => s.retentionDeletedPulses,
  );
  total(
    "arqon_store_retention_deleted_bytes_total",
    "Bytes deleted by retention.",
    (s) => s.retentionDeletedBytes,
  );
  total("arqon_store_history_reads_total", "History queries served.", (s) => s.historyReads);
  total(
    "arqon_store_history_pulses_total",
    "Pulses returned by history queries.",
    (s) => s.historyPulses,
  );
}
