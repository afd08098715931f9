/**
 * The audit log of governance actions: append-only, hash-chained, persisted.
 * @module
 */
export { AuditLog, type AuditLogOptions, MARK_EVERY } from "./audit_log.ts";
export { type AuditEntry, entryHash, GENESIS_HASH } from "./entry.ts";
export {
  type AuditVerification,
  ChainVerifier,
  verifyAuditFile,
  verifyAuditFileSync,
  verifyLines,
} from "./verify.ts";
export { canonicalJson } from "./canonical_json.ts";
