/**
 * Group commit: appends gather in a pending batch and are written in one transaction per
 * event-loop turn (`always`) or batch window (`batch`, `os`), so one fsync covers many
 * durable publishes. The commit also keeps each reality's persisted head: the exact
 * sequence when it stores pulses, otherwise a lease ahead of it (`SEQUENCE_LEASE`) so
 * fire-and-forget traffic costs no transaction at all.
 * @module
 */
import type { DatabaseSync, StatementSync } from "node:sqlite";
import type { CommitObserver } from "../spine/mod.ts";
import { ChunkBuilder } from "./chunk.ts";
import { chunkChecksum } from "./checksum.ts";
import { type PayloadCipher, recordAad } from "./crypto/mod.ts";
import { describe, StorageError } from "./errors.ts";
import {
  BATCH_SIZE_BOUNDS,
  COMMIT_LATENCY_BOUNDS_MS,
  Histogram,
  type StoreCounters,
} from "./metrics.ts";
import type { OperatorStateWriter, StateOp } from "./operator_state.ts";
import type { LogEntry } from "./pulse_codec.ts";
import type { RealityState, RuleState } from "./realities.ts";
import type { RealityRegistry } from "./registry.ts";
import { addDeleted, type Retention } from "./retention.ts";
import { Rollback } from "./rollback.ts";
import type { SyncPolicy } from "./schema.ts";

/**
 * Sequences fire-and-forget traffic may use beyond the persisted head before the head is
 * written again. Bounds both the write rate for unstored topics and the sequence gap a
 * crash can leave.
 */
export const SEQUENCE_LEASE = 65_536;

// What an append that needs no commit returns.
const COMMITTED: Promise<void> = Promise.resolve();

/** When a batch commits and how its pulses are cut into chunk rows. */
export interface GroupCommitOptions {
  /** The sync policy: `always` commits at the end of the current event-loop turn. */
  readonly sync: SyncPolicy;
  /** How long `batch` and `os` wait to gather a group commit, ms. */
  readonly windowMs: number;
  /** A batch this large commits without waiting for the window. */
  readonly maxBatchPulses: number;
  /** A batch this large commits without waiting for the window. */
  readonly maxBatchBytes: number;
  /** Pulses of one rule are split into rows of about this many bytes. */
  readonly maxChunkBytes: number;
  /** Seals chunk data at rest; absent: stored in clear. */
  readonly cipher: PayloadCipher | undefined;
  /** Wall clock for size-based retention after a commit. */
  readonly now: () => number;
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
  /** Operator state writes, in the order they were queued behind the pulses. */
  readonly stateOps: StateOp[] = [];
  pulses = 0;
  bytes = 0;
  readonly done = Promise.withResolvers<void>();
  constructor() {
    // Appends that nobody awaits must not surface as unhandled rejections.
    this.done.promise.catch(() => {});
  }
}

/** The pending batch, its scheduling and the transaction that writes it. */
export class GroupCommit {
  /** Pulses per commit. */
  readonly batchSize: Histogram = new Histogram(BATCH_SIZE_BOUNDS);
  /** Time a commit blocks, ms. */
  readonly commitLatency: Histogram = new Histogram(COMMIT_LATENCY_BOUNDS_MS);
  /** Told about every successful commit. */
  observer: CommitObserver | undefined;
  /** Applies queued operator state writes inside the commit's transaction. */
  stateWriter: OperatorStateWriter | undefined;
  readonly #db: DatabaseSync;
  readonly #registry: RealityRegistry;
  readonly #retention: Retention;
  readonly #counters: StoreCounters;
  readonly #cipher: PayloadCipher | undefined;
  readonly #now: () => number;
  readonly #immediate: boolean;
  readonly #windowMs: number;
  readonly #maxBatchPulses: number;
  readonly #maxBatchBytes: number;
  readonly #maxChunkBytes: number;
  readonly #insertChunk: StatementSync;
  readonly #updateHead: StatementSync;
  #pending = new PendingBatch();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #flushQueued = false;
  /** Open holds (see `hold`); while any is open a due commit waits for the last release. */
  #holds = 0;
  #deferred = false;

  /** Prepares the statements a commit runs on `db`. */
  constructor(
    db: DatabaseSync,
    registry: RealityRegistry,
    retention: Retention,
    counters: StoreCounters,
    options: GroupCommitOptions,
  ) {
    this.#db = db;
    this.#registry = registry;
    this.#retention = retention;
    this.#counters = counters;
    this.#cipher = options.cipher;
    this.#now = options.now;
    this.#immediate = options.sync === "always" || options.windowMs <= 0;
    this.#windowMs = options.windowMs;
    this.#maxBatchPulses = options.maxBatchPulses;
    this.#maxBatchBytes = options.maxBatchBytes;
    this.#maxChunkBytes = options.maxChunkBytes;
    this.#insertChunk = db.prepare(
      "INSERT INTO chunks (reality, rule, batch_first, first_seq, last_seq, first_wall, last_wall, count, bytes, meta, data, checksum) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
    );
    this.#updateHead = db.prepare("UPDATE realities SET last_seq=?, last_wall=? WHERE id=?");
  }

  /**
   * Adds pulses to the pending batch (sequence order per reality) and schedules its
   * commit; resolves when the batch is committed.
   */
  append(entries: readonly LogEntry[]): Promise<void> {
    const batch = this.#pending;
    // Nothing waits to be committed and these pulses would need no transaction either
    // (fire-and-forget, within the sequence lease): their commit is only the head's update
    // in memory, done now. A paced publisher otherwise paid a batch, its promise and a
    // window timer (one more event-loop wake-up) per message: docs/performance.md.
    if (
      batch.pulses === 0 && batch.stateOps.length === 0 && this.#holds === 0 &&
      this.#timer === undefined && !this.#flushQueued && this.#leased(entries)
    ) {
      for (const item of entries) {
        const reality = this.#registry.get(item.pulse.realityId || "default")!;
        const seq = Number(item.pulse.sequence ?? 0);
        const wall = Number(item.pulse.timestamp?.wallMs ?? 0);
        if (seq > reality.lastSeq) reality.lastSeq = seq;
        if (wall > reality.lastWall) reality.lastWall = wall;
      }
      this.#counters.appendedPulses += entries.length;
      return COMMITTED;
    }
    try {
      for (const item of entries) {
        const pulse = item.pulse;
        const reality = this.#registry.forAppend(pulse.realityId || "default");
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

  /**
   * Queues an operator state write behind the pulses appended so far: it commits in the
   * same transaction as they do, or fails with them. Resolves when committed.
   */
  appendState(op: StateOp): Promise<void> {
    const batch = this.#pending;
    batch.stateOps.push(op);
    this.#schedule(batch);
    return batch.done.promise;
  }

  /**
   * Holds the pending batch open: a commit that falls due (window, size, `always`) waits
   * until the returned release is called, so what is appended and queued in between (an
   * operator's outputs for one input pulse, then its state write) lands in one
   * transaction even when the appends are spread over several microtasks. Holders must
   * release promptly (they hold every durable ack of the node); releasing twice is a no-op.
   */
  hold(): () => void {
    this.#holds++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      if (--this.#holds > 0 || !this.#deferred) return;
      this.#deferred = false;
      this.#schedule(this.#pending, true);
    };
  }

  /** Commits the pending batch now; resolves once everything appended so far is committed. */
  flush(): Promise<void> {
    const batch = this.#pending;
    if (batch.pulses === 0 && batch.stateOps.length === 0) return Promise.resolve();
    this.commitPending();
    return batch.done.promise;
  }

  #schedule(batch: PendingBatch, due = false): void {
    const full = batch.pulses >= this.#maxBatchPulses || batch.bytes >= this.#maxBatchBytes;
    if (due || full || this.#immediate) {
      if (this.#timer !== undefined) {
        clearTimeout(this.#timer);
        this.#timer = undefined;
      }
      if (!this.#flushQueued) {
        this.#flushQueued = true;
        queueMicrotask(() => {
          this.#flushQueued = false;
          this.commitPending();
        });
      }
    } else if (this.#timer === undefined && !this.#flushQueued) {
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        this.commitPending();
      }, this.#windowMs);
    }
  }

  /**
   * Commits the pending batch, if any, synchronously; while a hold is open it only marks
   * the commit as due, unless `force` (closing the store).
   */
  commitPending(force = false): void {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    const batch = this.#pending;
    if (batch.pulses === 0 && batch.stateOps.length === 0) return;
    if (this.#holds > 0 && !force) {
      this.#deferred = true;
      return;
    }
    this.#pending = new PendingBatch();
    this.#commit(batch);
  }

  #commit(batch: PendingBatch): void {
    const started = performance.now();
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
    const rollback = new Rollback();
    let written = 0;
    let deleted = [0, 0];
    try {
      this.#db.exec("BEGIN");
      const touched = new Set<RuleState>();
      for (const [reality, entry] of batch.realities) {
        // Pulses of a reality deleted while they waited are dropped with it.
        if (!this.#registry.isCurrent(reality)) continue;
        const chunks = [...entry.sealed, ...entry.open];
        let batchFirst = Infinity;
        for (const [, chunk] of chunks) {
          if (chunk.firstSeq < batchFirst) batchFirst = chunk.firstSeq;
        }
        let stored = false;
        for (const [rule, chunk] of chunks) {
          if (!reality.rules.includes(rule)) continue;
          const { meta, data } = chunk.finish();
          const sealed = this.#cipher
            ? this.#cipher.seal(data, recordAad(reality.id, rule.id, batchFirst, chunk.firstWall))
            : data;
          this.#insertChunk.run(
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
            sealed,
            chunkChecksum(meta, sealed),
          );
          rollback.rule(rule);
          rule.storedPulses += chunk.count;
          rule.storedBytes += chunk.bytes;
          written += chunk.count;
          stored = true;
          touched.add(rule);
        }
        rollback.reality(reality);
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
          this.#updateHead.run(head, reality.lastWall, reality.id);
        }
      }
      const now = this.#now();
      for (const rule of touched) {
        if (rule.overSize()) {
          deleted = addDeleted(deleted, this.#retention.trim(rule, now, false, rollback));
        }
        this.#retention.saveRule(rule);
      }
      // Operator state rides behind the outputs it produced: same transaction, same fate.
      for (const op of batch.stateOps) this.stateWriter!.apply(op);
      this.#db.exec("COMMIT");
    } catch (error) {
      rollback.undo(this.#db);
      this.#counters.commitFailures++;
      batch.done.reject(
        new StorageError(`commit failed: ${describe(error)}`, undefined, { cause: error }),
      );
      return;
    }
    this.#counters.commits++;
    this.#counters.writtenPulses += written;
    this.#retention.recordDeleted(deleted);
    const ms = performance.now() - started;
    this.batchSize.observe(batch.pulses);
    this.commitLatency.observe(ms);
    this.observer?.commit(batch.pulses, ms);
    batch.done.resolve();
  }

  /**
   * Whether every entry is fire-and-forget (no retention rule stores its topic) in an
   * existing reality and within its persisted sequence lease: what `#needsTransaction`
   * would find nothing to write for. A reality not yet known is left to the batch.
   */
  #leased(entries: readonly LogEntry[]): boolean {
    for (const item of entries) {
      const pulse = item.pulse;
      const reality = this.#registry.get(pulse.realityId || "default");
      if (reality === undefined) return false;
      if (Number(pulse.sequence ?? 0) > reality.persistedSeq) return false;
      if (reality.ruleFor(pulse.topic ?? "") !== null) return false;
    }
    return true;
  }

  /** Whether a batch stores pulses or exhausts a reality's sequence lease. */
  #needsTransaction(batch: PendingBatch): boolean {
    if (batch.stateOps.length > 0) return true;
    for (const [reality, entry] of batch.realities) {
      if (entry.open.size > 0 || entry.sealed.length > 0) return true;
      if (entry.maxSeq > reality.persistedSeq) return true;
      if (!this.#registry.isCurrent(reality)) return true;
    }
    return false;
  }

  /**
   * Writes the exact head of every reality whose persisted head is a lease, so a clean
   * stop lets a restart continue without a gap. Errors are swallowed: on a failing disk
   * the lease still keeps numbers from being reused.
   */
  writeExactHeads(): void {
    try {
      for (const reality of this.#registry.states()) {
        if (reality.persistedSeq === reality.lastSeq) continue;
        this.#updateHead.run(reality.lastSeq, reality.lastWall, reality.id);
        reality.persistedSeq = reality.lastSeq;
      }
    } catch { /* see above */ }
  }
}
