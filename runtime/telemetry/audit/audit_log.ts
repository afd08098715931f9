/**
 * The audit log of governance actions (FR-SAFE-03): append-only and hash-chained. Every
 * entry holds the SHA-256 of the previous entry, and its own hash covers its content and
 * that link, so changing, removing or reordering any entry breaks the chain from there on.
 * Persisted as JSON lines (one entry per line, fsynced), or kept in memory.
 *
 * Memory stays bounded however long the node runs: only the last `keep` entries are held,
 * and only as many of them as fit in `keepBytes` of JSON (entries are as large as what they
 * record: a control change carries its parameters, up to `--control-max-bytes` each).
 * A persisted log reads older pages and verifies from its file (a chunk at a time, with a
 * byte offset remembered every {@linkcode MARK_EVERY} lines); a log kept in memory
 * (`--memory`) forgets what is older than its window and verifies the window it holds.
 * @module
 */
import { type AuditEntry, entryHash, GENESIS_HASH } from "./entry.ts";
import { eachLine } from "./lines.ts";
import { type AuditVerification, ChainVerifier, verifyAuditFileSync } from "./verify.ts";

/** Lines between two remembered file offsets (for reading old pages from disk). */
export const MARK_EVERY = 1024;

/** Options of {@linkcode AuditLog.open}. */
export interface AuditLogOptions {
  /** File to persist to (created if absent); null or absent keeps the log in memory. */
  path?: string | null;
  /** fsync after each append (default true). */
  sync?: boolean;
  /** Clock, for tests. */
  now?: () => Date;
  /**
   * Entries held in memory (the newest); older ones are read from the file, or forgotten
   * by a log kept in memory.
   * @default {4096}
   */
  keep?: number;
  /**
   * JSON bytes of the entries held in memory, at most (the newest entry is always held).
   * @default {33554432}
   */
  keepBytes?: number;
}

/** The append-only, hash-chained audit log. */
export class AuditLog {
  /** The newest entries, oldest first (at most 2 x `keep` between trims). */
  #recent: AuditEntry[] = [];
  /** Their JSON lengths, and the sum of them. */
  #recentSizes: number[] = [];
  #recentBytes = 0;
  /** Their lines as written, in a log kept in memory (which verifies these). */
  #recentLines: string[] = [];
  /** For a log in memory: the chain link and sequence its oldest held entry continues. */
  #windowPrev = GENESIS_HASH;
  #windowSeq = 1;
  #last: AuditEntry | undefined;
  #count = 0;
  /** Byte offset of line 1 + k * MARK_EVERY, and where the next line goes. */
  readonly #marks: number[] = [];
  #lines = 0;
  #bytes = 0;
  readonly #keep: number;
  readonly #keepBytes: number;
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
    this.#keep = Math.max(1, options.keep ?? 4096);
    this.#keepBytes = Math.max(1, options.keepBytes ?? 32 << 20);
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
    const file = Deno.openSync(path, { append: true, create: true, read: true });
    const log = new AuditLog(path, file, options);
    eachLine(path, 0, (line, offset) => {
      log.#noteLine(offset, new TextEncoder().encode(line).length + 1);
      try {
        log.#hold(JSON.parse(line), line);
      } catch {
        // A damaged line: counted for the offsets, reported by verify(); not an entry.
      }
      return true;
    });
    const size = file.statSync().size;
    if (size > 0 && log.#bytes > size) {
      // A torn last line (no newline): end it so new entries start on a line of their own.
      file.writeSync(new TextEncoder().encode("\n"));
    }
    return log;
  }

  /** Number of entries. */
  get size(): number {
    return this.#count;
  }

  /** Hash of the last entry (the chain head). */
  get head(): string {
    return this.#last?.hash ?? GENESIS_HASH;
  }

  /**
   * Appends one governance action; durable (fsynced) when it returns.
   * `details` must be JSON-serialisable.
   */
  append(action: string, actor: string, details: Record<string, unknown> = {}): AuditEntry {
    const last = this.#last;
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
      this.#noteLine(this.#bytes, bytes.length);
    }
    this.#hold(entry, line);
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

  /**
   * Entries with `seq >= from`, at most `limit` of them, in order. A log kept in memory
   * starts at the oldest entry it still holds.
   */
  list(from = 1, limit = 100): AuditEntry[] {
    limit = Math.max(0, limit);
    const oldest = this.#recent[0]?.seq ?? Infinity;
    if (from >= oldest || !this.path || limit === 0) {
      const start = this.#recent.findIndex((e) => e.seq >= from);
      return start < 0 ? [] : this.#recent.slice(start, start + limit);
    }
    // Older than what is held: from the file, starting at the mark before `from` (an
    // intact log has entry n on line n).
    const out: AuditEntry[] = [];
    const mark = Math.min(Math.floor((from - 1) / MARK_EVERY), this.#marks.length - 1);
    eachLine(this.path, this.#marks[Math.max(0, mark)] ?? 0, (line) => {
      try {
        const e = JSON.parse(line) as AuditEntry;
        if (e.seq >= from) out.push(e);
      } catch {
        // Damaged: not an entry.
      }
      return out.length < limit;
    });
    return out;
  }

  /** Verifies the chain as it is on disk (or, kept in memory, the entries it holds). */
  verify(): AuditVerification {
    if (this.path) return verifyAuditFileSync(this.path);
    const v = new ChainVerifier(this.#windowPrev, this.#windowSeq);
    for (const line of this.#recentLines) v.line(line);
    return v.result();
  }

  /** Closes the file. */
  close(): void {
    this.#file?.close();
  }

  #noteLine(offset: number, length: number): void {
    if (this.#lines % MARK_EVERY === 0) this.#marks.push(offset);
    this.#lines++;
    this.#bytes = offset + length;
  }

  #hold(entry: AuditEntry, line: string): void {
    this.#last = entry;
    this.#count++;
    this.#recent.push(entry);
    this.#recentSizes.push(line.length);
    this.#recentBytes += line.length;
    // A persisted log verifies from its file: only a log in memory holds its lines.
    if (!this.path) this.#recentLines.push(line);
    // Trimmed in halves, not per entry: an append stays O(1) amortised. By bytes too: a
    // few thousand large entries (control changes carry their parameters) would otherwise
    // hold gigabytes.
    if (this.#recent.length >= 2 * this.#keep || this.#recentBytes > 2 * this.#keepBytes) {
      let drop = Math.max(0, this.#recent.length - this.#keep);
      let bytes = this.#recentBytes;
      for (let i = 0; i < drop; i++) bytes -= this.#recentSizes[i];
      while (bytes > this.#keepBytes && drop < this.#recent.length - 1) {
        bytes -= this.#recentSizes[drop++];
      }
      if (drop === 0) return;
      const kept = this.#recent[drop];
      this.#windowPrev = kept.prev;
      this.#windowSeq = kept.seq;
      this.#recent = this.#recent.slice(drop);
      this.#recentSizes = this.#recentSizes.slice(drop);
      this.#recentLines = this.#recentLines.slice(drop);
      this.#recentBytes = bytes;
    }
  }
}
