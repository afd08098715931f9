/**
 * The embedded durable log, a `DurableLog` on SQLite (WAL): the facade that opens the
 * database and composes group commit (`group_commit.ts`), retention (`retention.ts`) and
 * the realities registry (`registry.ts`), and serves history reads and figures.
 * @module
 */
import { SqliteOperatorState, type StateOp } from "./operator_state.ts";
import { SqliteControlParams } from "./control_params.ts";
import type { DatabaseSync } from "node:sqlite";
import type {
  CommitObserver,
  DurableLog,
  HistoryQuery,
  RealityConfigInput,
  RealityInfo,
  RealityStats,
  StoredParamSet,
  StoredPulse,
  StoreStats,
} from "../spine/mod.ts";
import type { IPulse } from "../protocol/mod.ts";
import type { PayloadCipher } from "./crypto/mod.ts";
import { StorageError } from "./errors.ts";
import { GroupCommit } from "./group_commit.ts";
import { checkHistoryQuery, type HistoryStatements, scanHistory } from "./history.ts";
import { newCounters } from "./metrics.ts";
import { decodePulse, type LogEntry } from "./pulse_codec.ts";
import { normalizeRealityConfig } from "./realities.ts";
import { RealityRegistry } from "./registry.ts";
import { Retention } from "./retention.ts";
import { DATABASE_FILE, openStoreDatabase, type SyncPolicy } from "./schema.ts";

/** Options of `openStore`. */
export interface StoreOptions {
  /**
   * Directory holding the database; `null` keeps everything in memory (`--memory`).
   * Required: there is no default.
   */
  readonly dataDir: string | null;
  /**
   * `always`: commit at the end of the current event-loop turn, fsync each commit;
   * `batch`: gather appends for `batchWindowMs`, fsync each commit;
   * `os`: like `batch` but leave flushing to the OS (survives a process crash, not a
   * power loss).
   * @default {"batch"}
   */
  readonly sync?: SyncPolicy;
  /**
   * How long `batch` and `os` wait to gather a group commit, ms.
   * @default {1}
   */
  readonly batchWindowMs?: number;
  /**
   * A batch this large commits without waiting for the window, in pulses.
   * @default {8192}
   */
  readonly maxBatchPulses?: number;
  /**
   * A batch this large commits without waiting for the window, in bytes.
   * @default {4194304}
   */
  readonly maxBatchBytes?: number;
  /**
   * Pulses of one rule are split into rows of about this many bytes.
   * @default {262144}
   */
  readonly maxChunkBytes?: number;
  /**
   * How often age-based retention runs, ms; 0 turns the timer off.
   * @default {1000}
   */
  readonly retentionIntervalMs?: number;
  /**
   * Configuration of realities created implicitly by a publish (`{}`: store nothing).
   * @default {{}}
   */
  readonly defaultRealityConfig?: RealityConfigInput;
  /**
   * Caps the database file at about this many bytes; writes beyond fail as on a full disk.
   * Left out: unbounded.
   * @default {undefined}
   */
  readonly maxBytes?: number;
  /**
   * Encryption at rest (`--key-file`): chunk data is sealed with AES-256-GCM, bound to
   * its reality, rule, batch and time. Left out: stored in clear.
   * @default {undefined}
   */
  readonly cipher?: PayloadCipher;
  /**
   * Wall clock for age-based retention, ms since the epoch.
   * @default {Date.now}
   */
  readonly now?: () => number;
}

/**
 * The durable log of a node. Appends are grouped into one transaction per event-loop
 * turn or batch window; the promise `append` returns resolves once that transaction is
 * committed under the sync policy, or rejects with a `StorageError`
 * (`ERROR_CODE_STORAGE_FAILED`) when the write fails, e.g. on a full disk.
 */
export class SqliteLog implements DurableLog {
  /** Where the database lives, or null in memory. */
  readonly dataDir: string | null;
  /** The sync policy in force. */
  readonly sync: SyncPolicy;
  readonly #db: DatabaseSync;
  readonly #counters = newCounters();
  readonly #registry: RealityRegistry;
  readonly #retention: Retention;
  readonly #commits: GroupCommit;
  readonly #history: HistoryStatements;
  readonly #operatorState: SqliteOperatorState;
  readonly #controlParams: SqliteControlParams;
  #retentionTimer: ReturnType<typeof setInterval> | undefined;
  #closed = false;

  /** Opens the store; prefer `openStore`. Throws `StoreOpenError` on a bad data directory. */
  constructor(options: StoreOptions) {
    this.dataDir = options.dataDir;
    this.sync = options.sync ?? "batch";
    const now = options.now ?? Date.now;
    this.#db = openStoreDatabase(this.dataDir, {
      sync: this.sync,
      maxBytes: options.maxBytes,
    });
    const db = this.#db;
    this.#retention = new Retention(db, this.#counters, now);
    this.#operatorState = new SqliteOperatorState(db);
    this.#controlParams = new SqliteControlParams(db);
    this.#registry = new RealityRegistry(
      db,
      normalizeRealityConfig(options.defaultRealityConfig ?? {}),
      this.#retention,
      now,
    );
    this.#commits = new GroupCommit(db, this.#registry, this.#retention, this.#counters, {
      sync: this.sync,
      windowMs: options.batchWindowMs ?? 1,
      maxBatchPulses: options.maxBatchPulses ?? 8192,
      maxBatchBytes: options.maxBatchBytes ?? 4 * 1024 * 1024,
      maxChunkBytes: options.maxChunkBytes ?? 256 * 1024,
      cipher: options.cipher,
      now,
    });
    this.#commits.stateWriter = this.#operatorState;
    this.#history = {
      chunksFrom: db.prepare(
        "SELECT rule, batch_first, first_wall, first_seq, last_seq, checksum, meta, data FROM chunks WHERE reality=? AND last_seq>=? ORDER BY last_seq",
      ),
      firstByWall: db.prepare(
        "SELECT last_seq FROM chunks WHERE reality=? AND last_wall>=? ORDER BY last_wall, last_seq LIMIT 1",
      ),
      cipher: options.cipher,
    };
    const interval = options.retentionIntervalMs ?? 1000;
    if (interval > 0) {
      const timer = setInterval(() => this.enforceRetention(), interval);
      Deno.unrefTimer(timer as unknown as number);
      this.#retentionTimer = timer;
    }
  }

  /** Told about every commit; set by whoever exports metrics. */
  get observer(): CommitObserver | undefined {
    return this.#commits.observer;
  }
  set observer(observer: CommitObserver | undefined) {
    this.#commits.observer = observer;
  }

  // ---------------------------------------------------------------- appending

  /**
   * Appends pulses stamped by the Spine (sequence order per reality). Pulses whose topic
   * matches no retention rule are not stored, but their sequence still advances the
   * reality's head so sequences continue after a restart. Resolves when committed.
   */
  append(entries: readonly LogEntry[]): Promise<void> {
    if (this.#closed) return Promise.reject(new StorageError("the store is closed"));
    return this.#commits.append(entries);
  }

  /** True when a pulse on `topic` in `reality` would be stored (a retention rule matches). */
  shouldStore(reality: string, topic: string): boolean {
    return this.#registry.shouldStore(reality, topic);
  }

  /** Resolves once everything appended so far is committed. */
  flush(): Promise<void> {
    return this.#commits.flush();
  }

  /** Runs age-based retention now (it also runs every `retentionIntervalMs`). */
  enforceRetention(): void {
    if (this.#closed) return;
    this.#retention.enforceAge(this.#registry.states());
  }

  // ---------------------------------------------------------------- realities

  /** Creates a reality; fails with `ERROR_CODE_INVALID_ARGUMENT` if it exists. */
  createReality(name: string, config: unknown = {}): RealityInfo {
    this.#assertOpen();
    return this.#registry.create(name, config);
  }

  /** The reality's configuration and figures, or undefined. */
  getReality(name: string): RealityInfo | undefined {
    return this.#registry.get(name)?.info();
  }

  /** Whether a reality exists (created by the API or by a stored publish). */
  hasReality(name: string): boolean {
    return this.#registry.get(name) !== undefined;
  }

  /** How many realities exist. */
  realityCount(): number {
    return this.#registry.size;
  }

  /** All realities, by name. */
  listRealities(): RealityInfo[] {
    return this.#registry.list();
  }

  /**
   * Replaces a reality's configuration. Rules whose pattern is kept keep their stored
   * pulses (new limits apply at once); pulses of removed rules are deleted. Fails with
   * `ERROR_CODE_NOT_FOUND` for an unknown reality.
   */
  updateReality(name: string, config: unknown): RealityInfo {
    this.#assertOpen();
    const reality = this.#registry.get(name);
    if (!reality) throw new StorageError(`no reality ${name}`, "NOT_FOUND");
    const next = normalizeRealityConfig(config);
    // Forced past an operator's hold: the registry must not change under pending pulses.
    this.#commits.commitPending(true);
    return this.#registry.replace(reality, next);
  }

  /** Deletes a reality with all its pulses; false when it did not exist. */
  deleteReality(name: string): boolean {
    this.#assertOpen();
    const reality = this.#registry.get(name);
    if (!reality) return false;
    this.#commits.commitPending(true);
    this.#registry.delete(reality);
    // Its parameter set goes with it (a later reality of that name starts without one).
    this.#controlParams.deleteControlParams(name);
    return true;
  }

  // ---------------------------------------------------------------- reading

  /** The last committed sequence of a reality (0 when it has none). */
  lastSequence(realityId: string): number {
    return this.#registry.get(realityId || "default")?.lastSeq ?? 0;
  }

  /** HLC wall time of the last committed pulse of a reality, to seed the clock after a restart. */
  lastWallMs(realityId: string): number {
    return this.#registry.get(realityId || "default")?.lastWall ?? 0;
  }

  /** Stored pulses of a reality, encoded, in sequence order; see `HistoryQuery`. */
  readEncoded(query: HistoryQuery): StoredPulse[] {
    this.#assertOpen();
    checkHistoryQuery(query);
    const reality = this.#registry.get(query.reality);
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
      batchSize: this.#commits.batchSize,
      commitLatencyMs: this.#commits.commitLatency,
      fileBytes,
      realities,
    };
  }

  loadOperatorState(reality: string, operator: string): [string, Uint8Array][] {
    this.#assertOpen();
    return this.#operatorState.load(reality, operator);
  }

  commitOperatorState(
    reality: string,
    operator: string,
    changes: readonly (readonly [string, Uint8Array | null])[],
  ): Promise<void> {
    return this.#queueState({ kind: "changes", reality, operator, changes });
  }

  replaceOperatorState(
    reality: string,
    operator: string,
    entries: readonly (readonly [string, Uint8Array])[],
  ): Promise<void> {
    return this.#queueState({ kind: "replace", reality, operator, entries });
  }

  dropOperatorState(reality: string, operator: string): Promise<void> {
    return this.#queueState({ kind: "drop", reality, operator });
  }

  holdCommits(): () => void {
    return this.#commits.hold();
  }

  #queueState(op: StateOp): Promise<void> {
    if (this.#closed) return Promise.reject(new StorageError("the store is closed"));
    return this.#commits.appendState(op);
  }

  loadControlParams(): StoredParamSet[] {
    this.#assertOpen();
    return this.#controlParams.loadControlParams();
  }

  saveControlParams(set: StoredParamSet): void {
    this.#assertOpen();
    this.#controlParams.saveControlParams(set);
  }

  deleteControlParams(reality: string): void {
    this.#assertOpen();
    this.#controlParams.deleteControlParams(reality);
  }

  /** Commits what is pending and closes the database; later appends reject. */
  close(): void {
    if (this.#closed) return;
    this.#commits.commitPending(true);
    this.#commits.writeExactHeads();
    this.#closed = true;
    if (this.#retentionTimer !== undefined) clearInterval(this.#retentionTimer);
    this.#db.close();
  }

  #assertOpen(): void {
    if (this.#closed) throw new StorageError("the store is closed");
  }
}

/**
 * Opens the durable log described by `options` (throws `StoreOpenError` when it cannot).
 * `dataDir: null` keeps everything in memory.
 *
 * @example
 * ```ts
 * import { openStore } from "@arqon/bus";
 *
 * const log = openStore({ dataDir: null, sync: "batch" });
 * log.createReality("orders", { retention: [{ pattern: "orders.>", maxAgeMs: 86_400_000 }] });
 * console.log(log.listRealities().map((r) => r.name)); // ["orders"]
 * log.close();
 * ```
 */
export function openStore(options: StoreOptions): DurableLog {
  return new SqliteLog(options);
}
