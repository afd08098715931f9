/**
 * Cluster governance on NATS JetStream: the shared records every node applies (KV bucket
 * and object store), the one audit chain of the cluster, and operator leases.
 * @module
 */
export {
  AUDIT_SUBJECT,
  ClusterAudit,
  type ClusterAuditOptions,
  type ClusterAuditVerification,
} from "./audit_chain.ts";
export { governanceUnavailable, leaseHeld } from "./errors.ts";
export { type LeaseRecord, Leases, type LeasesOptions } from "./lease.ts";
export { ReplicatedOperatorState } from "./operator_state.ts";
export {
  type GovernanceChange,
  type GovernanceHandler,
  type GovernanceKind,
  GovernanceSync,
  type GovernanceSyncOptions,
  keyOf,
} from "./sync.ts";
