/**
 * Checking an audit chain line by line: each entry parses, carries the next sequence, links
 * to the previous entry's hash and matches its own hash. Incremental, so a log on disk is
 * verified without holding it in memory.
 * @module
 */
import { type AuditEntry, entryHash, GENESIS_HASH } from "./entry.ts";
import { eachLine } from "./lines.ts";

/** Outcome of a verification. */
export interface AuditVerification {
  /** True when every entry is intact and linked. */
  ok: boolean;
  /** Entries checked (lines read). */
  entries: number;
  /** The first broken entry: its line (from 1), seq when readable, and what is wrong. */
  firstBroken?: { line: number; seq?: number; problem: string };
}

/** Checks lines one at a time; `result()` says what it found so far. */
export class ChainVerifier {
  #prev: string;
  #nextSeq: number;
  #lines = 0;
  #broken: AuditVerification["firstBroken"];

  /**
   * A verifier of a chain whose first line is entry `firstSeq`, linking to `prev`.
   * @param prev the hash the first entry links to
   * @default {GENESIS_HASH}
   * @param firstSeq the sequence of the first entry
   * @default {1}
   */
  constructor(prev: string = GENESIS_HASH, firstSeq = 1) {
    this.#prev = prev;
    this.#nextSeq = firstSeq;
  }

  /** Checks the next line; false once the chain is broken (later lines are only counted). */
  line(text: string): boolean {
    const at = ++this.#lines;
    if (this.#broken) return false;
    const broken = (problem: string, seq?: number): boolean => {
      this.#broken = { line: at, seq, problem };
      return false;
    };
    let e: AuditEntry;
    try {
      e = JSON.parse(text);
    } catch {
      return broken("not valid JSON");
    }
    if (typeof e !== "object" || e === null || typeof e.hash !== "string") {
      return broken("not an audit entry");
    }
    const want = this.#nextSeq++;
    if (e.seq !== want) return broken(`sequence ${e.seq} where ${want} was expected`, e.seq);
    if (e.prev !== this.#prev) return broken("does not link to the previous entry's hash", e.seq);
    if (entryHash(e) !== e.hash) return broken("content does not match its hash", e.seq);
    this.#prev = e.hash;
    return true;
  }

  /** What was found over the lines seen. */
  result(): AuditVerification {
    return this.#broken
      ? { ok: false, entries: this.#lines, firstBroken: this.#broken }
      : { ok: true, entries: this.#lines };
  }
}

/** Checks a sequence of raw lines (JSON entries) for integrity and linkage. */
export function verifyLines(lines: readonly string[]): AuditVerification {
  const v = new ChainVerifier();
  for (const line of lines) v.line(line);
  return v.result();
}

/** Verifies the audit log file at `path`, a chunk at a time. */
export function verifyAuditFileSync(path: string): AuditVerification {
  const v = new ChainVerifier();
  eachLine(path, 0, (line) => (v.line(line), true));
  return v.result();
}

/** Verifies the audit log file at `path`. */
export function verifyAuditFile(path: string): Promise<AuditVerification> {
  return Promise.resolve(verifyAuditFileSync(path));
}
