/**
 * The audit log of governance actions (FR-SAFE-03): append-only and hash-chained. Every
 * entry holds the SHA-256 of the previous entry, and its own hash covers its content and
 * that link, so changing, removing or reordering any entry breaks the chain from there on.
 * Persisted as JSON lines (one entry per line, fsynced), or kept in memory.
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

/** Outcome of a verification. */
export interface AuditVerification {
  /** True when every entry is intact and linked. */
  ok: boolean;
  /** Entries checked (lines read). */
  entries: number;
  /** The first broken entry: its line (from 1), seq when readable, and what is wrong. */
  firstBroken?: { line: number; seq?: number; problem: string };
}

/** Checks a sequence of raw lines (JSON entries) for integrity and linkage. */
export function verifyLines(lines: readonly string[]): AuditVerification {
  let prev = GENESIS_HASH;
  for (let i = 0; i < lines.length; i++) {
    const broken = (problem: string, seq?: number): AuditVerification => ({
      ok: false,
      entries: lines.length,
      firstBroken: { line: i + 1, seq, problem },
    });
    let e: AuditEntry;
    try {
      e = JSON.parse(lines[i]);
    } catch {
      return broken("not valid JSON");
    }
    if (typeof e !== "object" || e === null || typeof e.hash !== "string") {
      return broken("not an audit entry");
    }
    if (e.seq !== i + 1) return broken(`sequence ${e.seq} where ${i + 1} was expected`, e.seq);
    if (e.prev !== prev) return broken("does not link to the previous entry's hash", e.seq);
    if (entryHash(e) !== e.hash) return broken("content does not match its hash", e.seq);
    prev = e.hash;
  }
  return { ok: true, entries: lines.length };
}

/** Splits a log file's text into entry lines (a trailing newline ends the last one). */
export function splitLines(text: string): string[] {
  const lines = text.split("\n");
  if (lines.at(-1) === "") lines.pop();
  return lines;
}

/** Verifies the audit log file at `path`. */
export async function verifyAuditFile(path: string): Promise<AuditVerification> {
  return verifyLines(splitLines(await Deno.readTextFile(path)));
}

/** Options of {@linkcode AuditLog.open}. */
export interface AuditLogOptions {
  /** File to persist to (created if absent); null or absent keeps the log in memory. */
  path?: string | null;
  /** fsync after each append (default true). */
  sync?: boolean;
  /** Clock, for tests. */
  now?: () => Date;
}

/** The append-only, hash-chained audit log. */
export class AuditLog {
  readonly #entries: AuditEntry[] = [];
  readonly #lines: string[] = [];
  readonly #file: Deno.FsFile | null;
  readonly #sync: boolean;
  readonly #now: () => Date;
  /** Where the log is persisted, or null in memory. */
  readonly path: string | null;

  private constructor(path: string | null, file: Deno.FsFile | null, options: AuditLogOptions) {
    this.path = path;
    this.#file = file;
    this.#sync = options.sync ?? true;
    this.#now = options.now ?? (() => new Date());
  }

  /**
   * Opens (or creates) a log. Existing entries are loaded as they are; a damaged log still
   * opens, new entries chain onto the last readable one, and {@linkcode verify} reports the
   * damage.
   */
  static open(options: AuditLogOptions = {}): AuditLog {
    const path = options.path ?? null;
    if (path === null) return new AuditLog(null, null, options);
    const dir = path.slice(0, path.lastIndexOf("/"));
    if (dir) Deno.mkdirSync(dir, { recursive: true });
    let text = "";
    try {
      text = Deno.readTextFileSync(path);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
    const file = Deno.openSync(path, { append: true, create: true });
    const log = new AuditLog(path, file, options);
    if (text !== "" && !text.endsWith("\n")) {
      // A torn last line: end it so new entries start on a line of their own.
      file.writeSync(new TextEncoder().encode("\n"));
      text += "\n";
    }
    for (const line of splitLines(text)) {
      log.#lines.push(line);
      try {
        log.#entries.push(JSON.parse(line));
      } catch {
        // Kept in #lines for verify(); not an entry.
      }
    }
    return log;
  }

  /** Number of entries. */
  get size(): number {
    return this.#entries.length;
  }

  /** Hash of the last entry (the chain head). */
  get head(): string {
    return this.#entries.at(-1)?.hash ?? GENESIS_HASH;
  }

  /**
   * Appends one governance action; durable (fsynced) when it returns.
   * `details` must be JSON-serialisable.
   */
  append(action: string, actor: string, details: Record<string, unknown> = {}): AuditEntry {
    const last = this.#entries.at(-1);
    const body = {
      seq: (last?.seq ?? 0) + 1,
      time: this.#now().toISOString(),
      action,
      actor,
      details: JSON.parse(JSON.stringify(details)) as Record<string, unknown>,
      prev: last?.hash ?? GENESIS_HASH,
    };
    const entry: AuditEntry = { ...body, hash: entryHash(body) };
    const line = JSON.stringify(entry);
    if (this.#file) {
      const bytes = new TextEncoder().encode(line + "\n");
      let written = 0;
      while (written < bytes.length) written += this.#file.writeSync(bytes.subarray(written));
      if (this.#sync) this.#file.syncDataSync();
    }
    this.#entries.push(entry);
    this.#lines.push(line);
    this.#listener?.(entry);
    return entry;
  }

  #listener: ((entry: AuditEntry) => void) | undefined;

  /**
   * Calls `listener` with every entry appended from now on (the node logs installs from
   * here: every governance action passes this one place).
   */
  onAppend(listener: ((entry: AuditEntry) => void) | undefined): void {
    this.#listener = listener;
  }

  /** Entries with `seq >= from`, at most `limit` of them, in order. */
  list(from = 1, limit = 100): AuditEntry[] {
    const start = this.#entries.findIndex((e) => e.seq >= from);
    if (start < 0) return [];
    return this.#entries.slice(start, start + Math.max(0, limit));
  }

  /** Verifies the chain as it is on disk (or in memory). */
  verify(): AuditVerification {
    if (this.path) return verifyLines(splitLines(Deno.readTextFileSync(this.path)));
    return verifyLines(this.#lines);
  }

  /** Closes the file. */
  close(): void {
    this.#file?.close();
  }
}
