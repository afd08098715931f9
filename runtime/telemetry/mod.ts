/**
 * Telemetry of the node: Prometheus metrics (and, beside it, the audit log).
 * @module
 */
export { NodeMetrics } from "./metrics.ts";
