/**
 * The embedded durable log under the Spine: group-committed SQLite (WAL) storage of
 * pulses, per-reality retention rules, a persisted realities registry and history
 * queries, behind the Spine's `DurableLog` port. `openStore({ dataDir })` is the entry
 * point; `dataDir: null` runs in memory.
 *
 * @example
 * ```ts
 * import { openStore } from "./mod.ts";
 *
 * const log = openStore({ dataDir: null });
 * log.createReality("orders", { retention: [{ pattern: "orders.>", maxPulses: 10_000 }] });
 * log.close();
 * ```
 * @module
 */
export type {
  CommitObserver,
  DurableLog,
  HistogramView,
  HistoryQuery,
  PulseLog,
  RealityConfig,
  RealityConfigInput,
  RealityInfo,
  RealityStats,
  RetentionRule,
  StoredPulse,
  StoreStats,
} from "../spine/mod.ts";
export { openStore, type StoreOptions } from "./sqlite_log.ts";
export type { PayloadCipher } from "./crypto/mod.ts";
export { registerStoreMetrics } from "./prometheus.ts";
export { StorageError, type StoreErrorCode, StoreOpenError } from "./errors.ts";
export { normalizeRealityConfig, validateRealityName } from "./realities.ts";
export type { SyncPolicy } from "./schema.ts";
export { Histogram } from "./metrics.ts";
export { type LogEntry, logEntry, readTopic } from "./pulse_codec.ts";
export { STORE_DEFAULTS, STORE_FLAGS, type StoreDiskOptions } from "./flags.ts";
