/**
 * The embedded durable log under the Spine: group-committed SQLite (WAL) storage of
 * pulses, per-reality retention rules, a persisted realities registry and history
 * queries. `openStore({ dataDir })` is the entry point; `dataDir: null` runs in memory.
 * @module
 */
export { type CommitObserver, openStore, SqliteLog, type StoreOptions } from "./sqlite_log.ts";
export { historyNdjson, historyQueryFromUrl, realityRoutes } from "./http_api.ts";
export { registerStoreMetrics } from "./prometheus.ts";
export { replayHistory, type ReplayOptions, type ReplayTarget } from "./replay.ts";
export {
  encodeHistoryChunkFrame,
  historyQueryFromFrame,
  type HistorySink,
  sendHistory,
} from "./history_frames.ts";
export { StorageError, type StoreErrorCode, StoreOpenError } from "./errors.ts";
export type { HistoryQuery } from "./history.ts";
export type { StoredPulse } from "./chunk.ts";
export {
  normalizeRealityConfig,
  type RealityConfig,
  type RealityConfigInput,
  type RealityInfo,
  type RetentionRule,
  validateRealityName,
} from "./realities.ts";
export type { SyncPolicy } from "./schema.ts";
export { compileTopicPattern, type TopicMatcher, validateTopicPattern } from "./topic_pattern.ts";
export { Histogram, type RealityStats, type StoreStats } from "./metrics.ts";
export { type LogEntry, logEntry, readTopic } from "./pulse_codec.ts";
export { STORE_DEFAULTS, STORE_FLAGS, type StoreDiskOptions } from "./flags.ts";
