/**
 * Retention: deleting the oldest pulses of a rule once it is over its count or byte
 * limit, or older than its max age. A rule never rewrites chunk rows: it moves a
 * watermark (every pulse at or below it is gone) and deletes a row once the watermark
 * passes its last pulse, so trimming costs one scan of the rows it empties.
 * @module
 */
import type { DatabaseSync, StatementSync } from "node:sqlite";
import { chunkMeta, metaCount } from "./chunk.ts";
import type { StoreCounters } from "./metrics.ts";
import type { RealityState, RuleState } from "./realities.ts";
import { Rollback } from "./rollback.ts";

/** Adds two `[pulses, bytes]` pairs of deletions. */
export function addDeleted(a: number[], b: number[]): number[] {
  return [a[0] + b[0], a[1] + b[1]];
}

/** Trims rules and persists their counters; age-based passes run on a timer. */
export class Retention {
  readonly #db: DatabaseSync;
  readonly #counters: StoreCounters;
  readonly #now: () => number;
  readonly #ruleChunks: StatementSync;
  readonly #deleteChunk: StatementSync;
  readonly #updateRule: StatementSync;

  /** Prepares the statements retention runs on `db`. */
  constructor(db: DatabaseSync, counters: StoreCounters, now: () => number) {
    this.#db = db;
    this.#counters = counters;
    this.#now = now;
    this.#ruleChunks = db.prepare(
      "SELECT id, last_seq, meta FROM chunks WHERE rule=? AND last_seq>? ORDER BY last_seq",
    );
    this.#deleteChunk = db.prepare("DELETE FROM chunks WHERE id=?");
    this.#updateRule = db.prepare(
      "UPDATE rules SET stored_pulses=?, stored_bytes=?, watermark=? WHERE id=?",
    );
  }

  /** Writes a rule's counters and watermark (inside the caller's transaction). */
  saveRule(rule: RuleState): void {
    this.#updateRule.run(rule.storedPulses, rule.storedBytes, rule.watermark, rule.id);
  }

  /**
   * Deletes the oldest pulses of `rule` while it is over its count or byte limit (unless
   * `ageOnly`) or older than its max age. Runs inside the caller's transaction, recording
   * the rule in `rollback` first; returns [pulses, bytes] deleted.
   */
  trim(rule: RuleState, now: number, ageOnly: boolean, rollback: Rollback): [number, number] {
    const cutoff = rule.rule.maxAgeMs ? now - rule.rule.maxAgeMs : -Infinity;
    rollback.rule(rule);
    let pulses = 0;
    let bytes = 0;
    const emptied: number[] = [];
    scan: for (
      const row of this.#ruleChunks.iterate(rule.id, rule.watermark) as Iterable<
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
    for (const id of emptied) this.#deleteChunk.run(id);
    return [pulses, bytes];
  }

  /**
   * One age-based pass over `realities` in its own transaction. A failed pass is rolled
   * back and retried on the next tick; the data stays readable.
   */
  enforceAge(realities: Iterable<RealityState>): void {
    const rules: RuleState[] = [];
    for (const reality of realities) {
      for (const rule of reality.rules) {
        if (rule.rule.maxAgeMs && rule.storedPulses > 0) rules.push(rule);
      }
    }
    if (rules.length === 0) return;
    const rollback = new Rollback();
    let deleted = [0, 0];
    try {
      this.#db.exec("BEGIN");
      const now = this.#now();
      for (const rule of rules) {
        const d = this.trim(rule, now, true, rollback);
        if (d[0] > 0) this.saveRule(rule);
        deleted = addDeleted(deleted, d);
      }
      this.#db.exec("COMMIT");
    } catch {
      rollback.undo(this.#db);
      return;
    }
    this.recordDeleted(deleted);
  }

  /** Counts `[pulses, bytes]` deleted by a committed transaction. */
  recordDeleted(deleted: number[]): void {
    this.#counters.retentionDeletedPulses += deleted[0];
    this.#counters.retentionDeletedBytes += deleted[1];
  }
}
