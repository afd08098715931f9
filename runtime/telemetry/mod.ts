/**
 * Telemetry of the node: Prometheus metrics (and, beside it, the audit log).
 * @module
 */
export { NodeMetrics } from "./metrics.ts";
export { type AuditEntry, AuditLog, type AuditVerification, verifyAuditFile } from "./audit/mod.ts";
