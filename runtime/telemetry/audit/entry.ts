/**
 * An audit entry and its hash: the SHA-256 of the canonical JSON of its fields, which
 * include the previous entry's hash, so the entries form a chain.
 * @module
 */
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import { canonicalJson } from "./canonical_json.ts";

/** The `prev` of the first entry. */
export const GENESIS_HASH = "0".repeat(64);

/** One governance action. */
export interface AuditEntry {
  /** Position in the log, from 1, without gaps. */
  seq: number;
  /** When it was appended (ISO 8601, UTC). */
  time: string;
  /** What happened, dotted, e.g. `policy.publish`, `token.issue`, `reality.delete`. */
  action: string;
  /** Who did it (authenticated subject, or `anonymous`/`node`). */
  actor: string;
  /** Action-specific facts (JSON). */
  details: Record<string, unknown>;
  /** Hash of the previous entry (hex), {@linkcode GENESIS_HASH} for the first. */
  prev: string;
  /** SHA-256 (hex) of the canonical JSON of all fields above. */
  hash: string;
}

/** The hash an entry must carry. */
export function entryHash(e: Omit<AuditEntry, "hash">): string {
  const { seq, time, action, actor, details, prev } = e;
  return bytesToHex(
    sha256(new TextEncoder().encode(canonicalJson({ seq, time, action, actor, details, prev }))),
  );
}
