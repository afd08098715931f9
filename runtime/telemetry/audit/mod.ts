/**
 * The audit log of governance actions: append-only, hash-chained, persisted.
 * @module
 */
export {
  type AuditEntry,
  AuditLog,
  type AuditLogOptions,
  type AuditVerification,
  entryHash,
  GENESIS_HASH,
  verifyAuditFile,
  verifyLines,
} from "./audit_log.ts";
export { canonicalJson } from "./canonical_json.ts";
