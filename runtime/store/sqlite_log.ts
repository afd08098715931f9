/**
 * The embedded durable log: pulses group-committed into SQLite (WAL) chunk rows, per
 * reality retention rules, a persisted realities registry and history queries.
 * @module
 */
import type { DatabaseSync, StatementSync } from "node:sqlite";
import { ChunkBuilder, chunkMeta, metaCount, type StoredPulse } from "./chunk.ts";
import { type PayloadCipher, recordAad } from "./crypto/mod.ts";
import { StorageError } from "./errors.ts";
import {
  checkHistoryQuery,
  type HistoryQuery,
  type HistoryStatements,
  scanHistory,
} from "./history.ts";
import {
  BATCH_SIZE_BOUNDS,
  COMMIT_LATENCY_BOUNDS_MS,
  Histogram,
  type RealityStats,
  type StoreStats,
} from "./metrics.ts";
import type { IPulse } from "../protocol/mod.ts";
import { decodePulse, type LogEntry } from "./pulse_codec.ts";
import {
  normalizeRealityConfig,
  type RealityConfig,
  type RealityConfigInput,
  type RealityInfo,
  RealityState,
  RuleState,
  validateRealityName,
} from "./realities.ts";
import { DATABASE_FILE, openStoreDatabase, type SyncPolicy } from "./schema.ts";

/** Options of `openStore`. */
export interface StoreOptions {
  /** Directory holding the database; `null` keeps everything in memory (`--memory`). */
  readonly dataDir: string | null;
  /**
   * `always`: commit at the end of the current event-loop turn, fsync each commit;
   * `batch` (default): gather appends for `batchWindowMs`, fsync each commit;
   * `os`: like `batch` but leave flushing to the OS (survives a process crash, not a
   * power loss).
   */
  readonly sync?: SyncPolicy;
  /** How long `batch` and `os` wait to gather a group commit, ms (default 1). */
  readonly batchWindowMs?: number;
  /** A batch this large commits without waiting for the window (default 8192 pulses). */
  readonly maxBatchPulses?: number;
  /** A batch this large commits without waiting for the window (default 4 MiB). */
  readonly maxBatchBytes?: number;
  /** Pulses of one rule are split into rows of about this many bytes (default 256 KiB). */
  readonly maxChunkBytes?: number;
  /** How often age-based retention runs, ms (default 1000). */
  readonly retentionIntervalMs?: number;
  /** Configuration of realities created implicitly by a publish (default: store nothing). */
  readonly defaultRealityConfig?: RealityConfigInput;
  /** Caps the database file at about this many bytes; writes beyond fail as on a full disk. */
  readonly maxBytes?: number;
  /**
   * Encryption at rest (`--key-file`): chunk data is sealed with AES-256-GCM, bound to
   * its reality, rule, batch and time. Absent: stored in clear.
   */
  readonly cipher?: PayloadCipher;
  /** Wall clock for age-based retention, ms since the epoch (default `Date.now`). */
  readonly now?: () => number;
}

interface PendingReality {
  maxSeq: number;
  maxWall: number;
  /** The chunk being filled per rule. */
  open: Map<RuleState, ChunkBuilder>;
  /** Chunks that reached the size cap, in order. */
  sealed: [RuleState, ChunkBuilder][];
}

class PendingBatch {
  readonly realities = new Map<RealityState, PendingReality>();
  pulses = 0;
  bytes = 0;
  readonly done = Promise.withResolvers<void>();
  constructor() {
    // Appends that nobody awaits must not surface as unhandled rejections.
    this.done.promise.catch(() => {});
  }
}

/** Receives every successful commit (for a metrics registry). */
export interface CommitObserver {
  /** A commit of `pulses` took `ms` milliseconds. */
  commit(pulses: number, ms: number): void;
}

interface Snapshot {
  rules: Map<RuleState, [number, number, number]>;
  realities: Map<RealityState, [number, number, number]>;
}

/**
 * Sequences fire-and-forget traffic may use beyond the persisted head before the head is
 * written again. Bounds both the write rate for unstored topics and the sequence gap a
 * crash can leave.
 */
export const SEQUENCE_LEASE = 65_536;

/**
 * The durable log of a node (`PulseLog`). Appends are grouped into one transaction per
 * event-loop turn or batch window; the promise `append` returns resolves once that
 * transaction is committed under the sync policy, or rejects with a `StorageError`
 * (`ERROR_CODE_STORAGE_FAILED`) when the write fails, e.g. on a full disk.
 */
export class SqliteLog {
  /** Where the database lives, or null in memory. */
  readonly dataDir: string | null;
  /** The sync policy in force. */
  readonly sync: SyncPolicy;
  /** Told about every commit; set by whoever exports metrics. */
  observer: CommitObserver | undefined;
  readonly #db: DatabaseSync;
  readonly #windowMs: number;
  readonly #maxBatchPulses: number;
  readonly #maxBatchBytes: number;
  readonly #maxChunkBytes: number;
  readonly #defaultConfig: RealityConfig;
  readonly #now: () => number;
  readonly #byName = new Map<string, RealityState>();
  #pending = new PendingBatch();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #flushQueued = false;
  #retentionTimer: ReturnType<typeof setInterval> | undefined;
  #closed = false;
  readonly #stmt: Record<string, StatementSync>;
  readonly #history: HistoryStatements;
  readonly #cipher: PayloadCipher | undefined;
  readonly #counters = {
    commits: 0,
    commitFailures: 0,
    appendedPulses: 0,
    writtenPulses: 0,
    retentionDeletedPulses: 0,
    retentionDeletedBytes: 0,
    historyReads: 0,
    historyPulses: 0,
  };
  readonly #batchSize = new Histogram(BATCH_SIZE_BOUNDS);
  readonly #commitLatency = new Histogram(COMMIT_LATENCY_BOUNDS_MS);

  /** Opens the store; prefer `openStore`. Throws `StoreOpenError` on a bad data directory. */
  constructor(options: StoreOptions) {
    this.dataDir = options.dataDir;
    this.#cipher = options.cipher;
    this.sync = options.sync ?? "batch";
    this.#windowMs = options.batchWindowMs ?? 1;
    this.#maxBatchPulses = options.maxBatchPulses ?? 8192;
    this.#maxBatchBytes = options.maxBatchBytes ?? 4 * 1024 * 1024;
    this.#maxChunkBytes = options.maxChunkBytes ?? 256 * 1024;
    this.#defaultConfig = normalizeRealityConfig(options.defaultRealityConfig ?? {});
    this.#now = options.now ?? Date.now;
    this.#db = openStoreDatabase(this.dataDir, {
      sync: this.sync,
      maxBytes: options.maxBytes,
    });
    const db = this.#db;
    this.#stmt = {
      insertChunk: db.prepare(
        "INSERT INTO chunks (reality, rule, batch_first, first_seq, last_seq, first_wall, last_wall, count, bytes, meta, data) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
      ),
      updateHead: db.prepare("UPDATE realities SET last_seq=?, last_wall=? WHERE id=?"),
      updateRule: db.prepare(
        "UPDATE rules SET stored_pulses=?, stored_bytes=?, watermark=? WHERE id=?",
      ),
      updateRulePosition: db.prepare("UPDATE rules SET position=? WHERE id=?"),
      insertRule: db.prepare(
        "INSERT INTO rules (reality, position, pattern) VALUES (?,?,?) RETURNING id",
      ),
      deleteRule: db.prepare("DELETE FROM rules WHERE id=?"),
      deleteRuleChunks: db.prepare("DELETE FROM chunks WHERE rule=?"),
      ruleChunks: db.prepare(
        "SELECT id, last_seq, meta FROM chunks WHERE rule=? AND last_seq>? ORDER BY last_seq",
      ),
      deleteChunk: db.prepare("DELETE FROM chunks WHERE id=?"),
      insertReality: db.prepare(
        "INSERT INTO realities (name, config, created_ms) VALUES (?,?,?) RETURNING id",
      ),
      updateRealityConfig: db.prepare("UPDATE realities SET config=? WHERE id=?"),
      deleteReality: db.prepare("DELETE FROM realities WHERE id=?"),
      deleteRealityRules: db.prepare("DELETE FROM rules WHERE reality=?"),
      deleteRealityChunks: db.prepare("DELETE FROM chunks WHERE reality=?"),
    };
    this.#history = {
      chunksFrom: db.prepare(
        "SELECT rule, batch_first, first_wall, meta, data FROM chunks WHERE reality=? AND last_seq>=? ORDER BY last_seq",
      ),
      firstByWall: db.prepare(
        "SELECT last_seq FROM chunks WHERE reality=? AND last_wall>=? ORDER BY last_wall, last_seq LIMIT 1",
      ),
      cipher: options.cipher,
    };
    this.#load();
    const interval = options.retentionIntervalMs ?? 1000;
    if (interval > 0) {
      const timer = setInterval(() => this.#enforceAge(), interval);
      Deno.unrefTimer(timer as unknown as number);
      this.#retentionTimer = timer;
    }
  }

  #load(): void {
    const realities = this.#db.prepare(
      "SELECT id, name, config, created_ms, last_seq, last_wall FROM realities",
    ).all() as {
      id: number;
      name: string;
      config: string;
      created_ms: number;
      last_seq: number;
      last_wall: number;
    }[];
    const rules = this.#db.prepare(
      "SELECT id, reality, pattern, stored_pulses, stored_bytes, watermark FROM rules ORDER BY reality, position",
    ).all() as {
      id: number;
      reality: number;
      pattern: string;
      stored_pulses: number;
      stored_bytes: number;
      watermark: number;
    }[];
    for (const row of realities) {
      const config = normalizeRealityConfig(JSON.parse(row.config));
      const state = new RealityState(
        row.id,
        row.name,
        config,
        row.created_ms,
        row.last_seq,
        row.last_wall,
      );
      state.setRules(
        rules.filter((r) => r.reality === row.id).map((r) =>
          new RuleState(
            r.id,
            config.retention.find((c) => c.pattern === r.pattern) ?? { pattern: r.pattern },
            r.stored_pulses,
            r.stored_bytes,
            r.watermark,
          )
        ),
      );
      this.#byName.set(row.name, state);
    }
  }

  // ---------------------------------------------------------------- appending

  /**
   * Appends pulses stamped by the Spine (sequence order per reality). Pulses whose topic
   * matches no retention rule are not stored, but their sequence still advances the
   * reality's head so sequences continue after a restart. Resolves when committed.
   */
  append(entries: readonly LogEntry[]): Promise<void> {
    if (this.#closed) return Promise.reject(new StorageError("the store is closed"));
    const batch = this.#pending;
    try {
      for (const item of entries) {
        const pulse = item.pulse;
        const reality = this.#realityForAppend(pulse.realityId || "default");
        const seq = Number(pulse.sequence ?? 0);
        const wall = Number(pulse.timestamp?.wallMs ?? 0);
        let entry = batch.realities.get(reality);
        if (!entry) {
          entry = { maxSeq: 0, maxWall: 0, open: new Map(), sealed: [] };
          batch.realities.set(reality, entry);
        }
        if (seq > entry.maxSeq) entry.maxSeq = seq;
        if (wall > entry.maxWall) entry.maxWall = wall;
        const rule = reality.ruleFor(pulse.topic ?? "");
        if (rule) {
          let chunk = entry.open.get(rule);
          if (!chunk) {
            chunk = new ChunkBuilder(rule.id);
            entry.open.set(rule, chunk);
          }
          const parts = item.parts;
          batch.bytes += parts
            ? chunk.add(parts[0], seq, wall, parts[1])
            : chunk.add(item.bytes, seq, wall);
          if (chunk.bytes >= this.#maxChunkBytes) {
            entry.sealed.push([rule, chunk]);
            entry.open.delete(rule);
          }
        }
        batch.pulses++;
      }
    } catch (error) {
      return Promise.reject(
        error instanceof StorageError
          ? error
          : new StorageError(`cannot append: ${describe(error)}`, undefined, { cause: error }),
      );
    }
    this.#counters.appendedPulses += entries.length;
    this.#schedule(batch);
    return batch.done.promise;
  }

  /** True when a pulse on `topic` in `reality` would be stored (a retention rule matches). */
  shouldStore(reality: string, topic: string): boolean {
    const state = this.#byName.get(reality || "default");
    if (state) return state.ruleFor(topic) !== null;
    this.#defaultRules ??= this.#defaultConfig.retention.map((r, i) => new RuleState(-1 - i, r));
    return this.#defaultRules.some((r) => r.matches(topic));
  }

  #defaultRules: RuleState[] | undefined;

  /** Resolves once everything appended so far is committed. */
  flush(): Promise<void> {
    if (this.#pending.pulses === 0) return Promise.resolve();
    const batch = this.#pending;
    this.#commitPending();
    return batch.done.promise;
  }

  #schedule(batch: PendingBatch): void {
    const full = batch.pulses >= this.#maxBatchPulses || batch.bytes >= this.#maxBatchBytes;
    if (full || this.sync === "always" || this.#windowMs <= 0) {
      if (this.#timer !== undefined) {
        clearTimeout(this.#timer);
        this.#timer = undefined;
      }
      if (!this.#flushQueued) {
        this.#flushQueued = true;
        queueMicrotask(() => {
          this.#flushQueued = false;
          this.#commitPending();
        });
      }
    } else if (this.#timer === undefined && !this.#flushQueued) {
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        this.#commitPending();
      }, this.#windowMs);
    }
  }

  #commitPending(): void {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    const batch = this.#pending;
    if (batch.pulses === 0) return;
    this.#pending = new PendingBatch();
    this.#commit(batch);
  }

  #commit(batch: PendingBatch): void {
    const started = performance.now();
    const snapshot: Snapshot = { rules: new Map(), realities: new Map() };
    let written = 0;
    let deleted = [0, 0];
    if (!this.#needsTransaction(batch)) {
      // Fire-and-forget pulses within the persisted sequence lease: nothing to write, so
      // the event loop pays no transaction (and no fsync) for them.
      for (const [reality, entry] of batch.realities) {
        reality.lastSeq = Math.max(reality.lastSeq, entry.maxSeq);
        reality.lastWall = Math.max(reality.lastWall, entry.maxWall);
      }
      batch.done.resolve();
      return;
    }
    try {
      this.#db.exec("BEGIN");
      const touched = new Set<RuleState>();
      for (const [reality, entry] of batch.realities) {
        // Pulses of a reality deleted while they waited are dropped with it.
        if (this.#byName.get(reality.name) !== reality) continue;
        const chunks = [...entry.sealed, ...entry.open];
        let batchFirst = Infinity;
        for (const [, chunk] of chunks) {
          if (chunk.firstSeq < batchFirst) batchFirst = chunk.firstSeq;
        }
        let stored = false;
        for (const [rule, chunk] of chunks) {
          if (!reality.rules.includes(rule)) continue;
          const { meta, data } = chunk.finish();
          this.#stmt.insertChunk.run(
            reality.id,
            rule.id,
            batchFirst,
            chunk.firstSeq,
            chunk.lastSeq,
            chunk.firstWall,
            chunk.lastWall,
            chunk.count,
            chunk.bytes,
            meta,
            this.#cipher
              ? this.#cipher.seal(data, recordAad(reality.id, rule.id, batchFirst, chunk.firstWall))
              : data,
          );
          this.#snapshotRule(snapshot, rule);
          rule.storedPulses += chunk.count;
          rule.storedBytes += chunk.bytes;
          written += chunk.count;
          stored = true;
          touched.add(rule);
        }
        snapshot.realities.set(reality, [reality.lastSeq, reality.lastWall, reality.persistedSeq]);
        reality.lastSeq = Math.max(reality.lastSeq, entry.maxSeq);
        reality.lastWall = Math.max(reality.lastWall, entry.maxWall);
        // A commit that stores pulses records the exact head, so stored sequences continue
        // without a gap after a crash. Fire-and-forget traffic only renews a lease ahead
        // of the head when it runs out: after a crash the sequence resumes past the lease
        // (a gap, never a reused number); a clean close writes the exact head.
        const head = stored
          ? reality.lastSeq
          : reality.lastSeq > reality.persistedSeq
          ? reality.lastSeq + SEQUENCE_LEASE
          : reality.persistedSeq;
        if (head !== reality.persistedSeq || stored) {
          reality.persistedSeq = head;
          this.#stmt.updateHead.run(head, reality.lastWall, reality.id);
        }
      }
      const now = this.#now();
      for (const rule of touched) {
        if (rule.overSize()) deleted = add(deleted, this.#trim(rule, now, false, snapshot));
        this.#saveRule(rule);
      }
      this.#db.exec("COMMIT");
    } catch (error) {
      this.#rollback(snapshot);
      this.#counters.commitFailures++;
      batch.done.reject(
        new StorageError(`commit failed: ${describe(error)}`, undefined, { cause: error }),
      );
      return;
    }
    this.#counters.commits++;
    this.#counters.writtenPulses += written;
    this.#counters.retentionDeletedPulses += deleted[0];
    this.#counters.retentionDeletedBytes += deleted[1];
    const ms = performance.now() - started;
    this.#batchSize.observe(batch.pulses);
    this.#commitLatency.observe(ms);
    this.observer?.commit(batch.pulses, ms);
    batch.done.resolve();
  }

  /** Whether a batch stores pulses or exhausts a reality's sequence lease. */
  #needsTransaction(batch: PendingBatch): boolean {
    for (const [reality, entry] of batch.realities) {
      if (entry.open.size > 0 || entry.sealed.length > 0) return true;
      if (entry.maxSeq > reality.persistedSeq) return true;
      if (this.#byName.get(reality.name) !== reality) return true;
    }
    return false;
  }

  #saveRule(rule: RuleState): void {
    this.#stmt.updateRule.run(rule.storedPulses, rule.storedBytes, rule.watermark, rule.id);
  }

  #snapshotRule(snapshot: Snapshot, rule: RuleState): void {
    if (!snapshot.rules.has(rule)) {
      snapshot.rules.set(rule, [rule.storedPulses, rule.storedBytes, rule.watermark]);
    }
  }

  #rollback(snapshot: Snapshot): void {
    try {
      this.#db.exec("ROLLBACK");
    } catch { /* SQLite may already have rolled back (e.g. on SQLITE_FULL) */ }
    for (const [rule, [pulses, bytes, watermark]] of snapshot.rules) {
      rule.storedPulses = pulses;
      rule.storedBytes = bytes;
      rule.watermark = watermark;
    }
    for (const [reality, [seq, wall, persisted]] of snapshot.realities) {
      reality.lastSeq = seq;
      reality.lastWall = wall;
      reality.persistedSeq = persisted;
    }
  }

  // ---------------------------------------------------------------- retention

  /**
   * Deletes the oldest pulses of `rule` while it is over its count or byte limit or, when
   * `age` is set or a max age is configured, older than the max age. Runs inside the
   * caller's transaction; returns [pulses, bytes] deleted.
   */
  #trim(rule: RuleState, now: number, ageOnly: boolean, snapshot: Snapshot): [number, number] {
    const cutoff = rule.rule.maxAgeMs ? now - rule.rule.maxAgeMs : -Infinity;
    this.#snapshotRule(snapshot, rule);
    let pulses = 0;
    let bytes = 0;
    const emptied: number[] = [];
    scan: for (
      const row of this.#stmt.ruleChunks.iterate(rule.id, rule.watermark) as Iterable<
        { id: number; last_seq: number; meta: Uint8Array }
      >
    ) {
      const meta = chunkMeta(row.meta);
      const n = metaCount(meta);
      for (let i = 0, at = 0; i < n; i++, at += 3) {
        const seq = meta[at];
        if (seq <= rule.watermark) continue;
        if (!(meta[at + 1] < cutoff) && (ageOnly || !rule.overSize())) break scan;
        rule.watermark = seq;
        rule.storedPulses--;
        rule.storedBytes -= meta[at + 2];
        pulses++;
        bytes += meta[at + 2];
      }
      if (row.last_seq <= rule.watermark) emptied.push(row.id);
    }
    for (const id of emptied) this.#stmt.deleteChunk.run(id);
    return [pulses, bytes];
  }

  #enforceAge(): void {
    if (this.#closed) return;
    const rules: RuleState[] = [];
    for (const reality of this.#byName.values()) {
      for (const rule of reality.rules) {
        if (rule.rule.maxAgeMs && rule.storedPulses > 0) rules.push(rule);
      }
    }
    if (rules.length === 0) return;
    const snapshot: Snapshot = { rules: new Map(), realities: new Map() };
    let deleted = [0, 0];
    try {
      this.#db.exec("BEGIN");
      const now = this.#now();
      for (const rule of rules) {
        const d = this.#trim(rule, now, true, snapshot);
        if (d[0] > 0) this.#saveRule(rule);
        deleted = add(deleted, d);
      }
      this.#db.exec("COMMIT");
    } catch {
      // A failed retention pass is retried on the next tick; the data stays readable.
      this.#rollback(snapshot);
      return;
    }
    this.#counters.retentionDeletedPulses += deleted[0];
    this.#counters.retentionDeletedBytes += deleted[1];
  }

  /** Runs age-based retention now (it also runs every `retentionIntervalMs`). */
  enforceRetention(): void {
    this.#enforceAge();
  }

  // ---------------------------------------------------------------- realities

  #realityForAppend(name: string): RealityState {
    const existing = this.#byName.get(name);
    if (existing) return existing;
    return this.#createReality(name, this.#defaultConfig);
  }

  #createReality(name: string, config: RealityConfig): RealityState {
    validateRealityName(name);
    const created = this.#now();
    this.#db.exec("BEGIN");
    try {
      const { id } = this.#stmt.insertReality.get(name, JSON.stringify(config), created) as {
        id: number;
      };
      const state = new RealityState(id, name, config, created, 0, 0);
      state.setRules(
        config.retention.map((rule, position) => {
          const row = this.#stmt.insertRule.get(id, position, rule.pattern) as { id: number };
          return new RuleState(row.id, rule);
        }),
      );
      this.#db.exec("COMMIT");
      this.#byName.set(name, state);
      return state;
    } catch (error) {
      this.#rollback({ rules: new Map(), realities: new Map() });
      throw new StorageError(`cannot create reality ${name}: ${describe(error)}`, undefined, {
        cause: error,
      });
    }
  }

  /** Creates a reality; fails with `ERROR_CODE_INVALID_ARGUMENT` if it exists. */
  createReality(name: string, config: unknown = {}): RealityInfo {
    this.#assertOpen();
    validateRealityName(name);
    if (this.#byName.has(name)) {
      throw new StorageError(`reality ${name} already exists`, "INVALID_ARGUMENT");
    }
    return this.#createReality(name, normalizeRealityConfig(config)).info();
  }

  /** The reality's configuration and figures, or undefined. */
  getReality(name: string): RealityInfo | undefined {
    return this.#byName.get(name)?.info();
  }

  /** All realities, by name. */
  listRealities(): RealityInfo[] {
    return [...this.#byName.values()].map((r) => r.info()).sort((a, b) =>
      a.name < b.name ? -1 : a.name > b.name ? 1 : 0
    );
  }

  /**
   * Replaces a reality's configuration. Rules whose pattern is kept keep their stored
   * pulses (new limits apply at once); pulses of removed rules are deleted. Fails with
   * `ERROR_CODE_NOT_FOUND` for an unknown reality.
   */
  updateReality(name: string, config: unknown): RealityInfo {
    this.#assertOpen();
    const reality = this.#byName.get(name);
    if (!reality) throw new StorageError(`no reality ${name}`, "NOT_FOUND");
    const next = normalizeRealityConfig(config);
    this.#commitPending();
    const snapshot: Snapshot = { rules: new Map(), realities: new Map() };
    const previous = {
      rules: reality.rules,
      config: reality.config,
      limits: new Map(reality.rules.map((r) => [r, r.rule])),
    };
    let deleted = [0, 0];
    try {
      this.#db.exec("BEGIN");
      const old = new Map(reality.rules.map((r) => [r.rule.pattern, r]));
      const rules = next.retention.map((rule, position) => {
        const kept = old.get(rule.pattern);
        if (!kept) {
          const row = this.#stmt.insertRule.get(reality.id, position, rule.pattern) as {
            id: number;
          };
          return new RuleState(row.id, rule);
        }
        old.delete(rule.pattern);
        this.#snapshotRule(snapshot, kept);
        kept.rule = rule;
        this.#stmt.updateRulePosition.run(position, kept.id);
        return kept;
      });
      for (const removed of old.values()) {
        this.#stmt.deleteRuleChunks.run(removed.id);
        this.#stmt.deleteRule.run(removed.id);
        deleted = add(deleted, [removed.storedPulses, removed.storedBytes]);
      }
      this.#stmt.updateRealityConfig.run(JSON.stringify(next), reality.id);
      reality.setRules(rules);
      reality.config = next;
      const now = this.#now();
      for (const rule of rules) {
        deleted = add(deleted, this.#trim(rule, now, false, snapshot));
        this.#saveRule(rule);
      }
      this.#db.exec("COMMIT");
    } catch (error) {
      this.#rollback(snapshot);
      reality.setRules(previous.rules);
      reality.config = previous.config;
      for (const [rule, limits] of previous.limits) rule.rule = limits;
      throw new StorageError(`cannot update reality ${name}: ${describe(error)}`, undefined, {
        cause: error,
      });
    }
    this.#counters.retentionDeletedPulses += deleted[0];
    this.#counters.retentionDeletedBytes += deleted[1];
    return reality.info();
  }

  /** Deletes a reality with all its pulses; false when it did not exist. */
  deleteReality(name: string): boolean {
    this.#assertOpen();
    const reality = this.#byName.get(name);
    if (!reality) return false;
    this.#commitPending();
    try {
      this.#db.exec("BEGIN");
      this.#stmt.deleteRealityChunks.run(reality.id);
      this.#stmt.deleteRealityRules.run(reality.id);
      this.#stmt.deleteReality.run(reality.id);
      this.#db.exec("COMMIT");
    } catch (error) {
      this.#rollback({ rules: new Map(), realities: new Map() });
      throw new StorageError(`cannot delete reality ${name}: ${describe(error)}`, undefined, {
        cause: error,
      });
    }
    this.#byName.delete(name);
    return true;
  }

  // ---------------------------------------------------------------- reading

  /** The last committed sequence of a reality (0 when it has none). */
  lastSequence(realityId: string): number {
    return this.#byName.get(realityId || "default")?.lastSeq ?? 0;
  }

  /** HLC wall time of the last committed pulse of a reality, to seed the clock after a restart. */
  lastWallMs(realityId: string): number {
    return this.#byName.get(realityId || "default")?.lastWall ?? 0;
  }

  /** Stored pulses of a reality, encoded, in sequence order; see `HistoryQuery`. */
  readEncoded(query: HistoryQuery): StoredPulse[] {
    this.#assertOpen();
    checkHistoryQuery(query);
    const reality = this.#byName.get(query.reality);
    this.#counters.historyReads++;
    if (!reality) return [];
    const pulses = scanHistory(this.#history, reality, query);
    this.#counters.historyPulses += pulses.length;
    return pulses;
  }

  /** `PulseLog.read`: decoded pulses with `from <= sequence <= to`, at most `limit`. */
  read(realityId: string, from: number, to: number, limit: number): IPulse[] {
    return this.readEncoded({ reality: realityId || "default", fromSeq: from, toSeq: to, limit })
      .map((p) => decodePulse(p.bytes));
  }

  /**
   * Streams a history query in pages of at most `pageSize` pulses, yielding to the event
   * loop between pages so a long replay does not stall the node.
   */
  async *history(query: HistoryQuery, pageSize = 4096): AsyncGenerator<StoredPulse[]> {
    let remaining = query.limit ?? Number.MAX_SAFE_INTEGER;
    let fromSeq = query.fromSeq ?? 1;
    let first = true;
    while (remaining > 0) {
      const page = this.readEncoded({
        ...query,
        fromSeq,
        limit: Math.min(pageSize, remaining),
      });
      if (!first) this.#counters.historyReads--;
      first = false;
      if (page.length === 0) return;
      remaining -= page.length;
      fromSeq = page[page.length - 1].sequence + 1;
      yield page;
      if (page.length < pageSize) return;
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
  }

  // ---------------------------------------------------------------- lifecycle

  /** A snapshot of the store's metrics. */
  stats(): StoreStats {
    const realities: RealityStats[] = this.listRealities().map((r) => ({
      reality: r.name,
      lastSequence: r.lastSequence,
      storedPulses: r.storedPulses,
      storedBytes: r.storedBytes,
    }));
    let fileBytes = 0;
    if (this.dataDir !== null && !this.#closed) {
      for (const suffix of ["", "-wal"]) {
        try {
          fileBytes += Deno.statSync(`${this.dataDir}/${DATABASE_FILE}${suffix}`).size;
        } catch { /* absent */ }
      }
    }
    return {
      ...this.#counters,
      batchSize: this.#batchSize,
      commitLatencyMs: this.#commitLatency,
      fileBytes,
      realities,
    };
  }

  /** Commits what is pending and closes the database; later appends reject. */
  close(): void {
    if (this.#closed) return;
    this.#commitPending();
    // A clean stop writes the exact heads, so a restart continues without a gap.
    try {
      for (const reality of this.#byName.values()) {
        if (reality.persistedSeq === reality.lastSeq) continue;
        this.#stmt.updateHead.run(reality.lastSeq, reality.lastWall, reality.id);
        reality.persistedSeq = reality.lastSeq;
      }
    } catch { /* a failing disk: the lease still keeps numbers from being reused */ }
    this.#closed = true;
    if (this.#retentionTimer !== undefined) clearInterval(this.#retentionTimer);
    this.#db.close();
  }

  #assertOpen(): void {
    if (this.#closed) throw new StorageError("the store is closed");
  }
}

function add(a: number[], b: number[]): number[] {
  return [a[0] + b[0], a[1] + b[1]];
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Opens the durable log described by `options` (throws `StoreOpenError` when it cannot). */
export function openStore(options: StoreOptions): SqliteLog {
  return new SqliteLog(options);
}
