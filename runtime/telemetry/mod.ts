/**
 * Telemetry of the node: Prometheus metrics (and, beside it, the audit log).
 * @module
 */
export { LATENCY_SAMPLE_EVERY, NodeMetrics } from "./metrics.ts";
export {
  type AuditEntry,
  AuditLog,
  type AuditVerification,
  entryHash,
  GENESIS_HASH,
  verifyAuditFile,
  verifyLines,
} from "./audit/mod.ts";
export { cpuSeconds, openFds, type ProcessWatch, watchProcess } from "./process.ts";
export {
  LOG_DEFAULTS,
  type LogFields,
  type LogFormat,
  Logger,
  type LogLevel,
  type LogOptions,
} from "./log.ts";
export { type PulseSpan, PulseTracer, type TraceCarrier, type TracingOptions } from "./tracing.ts";
