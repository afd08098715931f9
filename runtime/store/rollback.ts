/**
 * Undoing a failed transaction: SQLite rolls back the rows, this restores the in-memory
 * counters (rule sizes and watermarks, reality heads) that the transaction had already
 * moved, so memory and disk agree again.
 * @module
 */
import type { DatabaseSync } from "node:sqlite";
import type { RealityState, RuleState } from "./realities.ts";

/** The counters a transaction touched, as they were before it touched them. */
export class Rollback {
  readonly #rules = new Map<RuleState, [number, number, number]>();
  readonly #realities = new Map<RealityState, [number, number, number]>();

  /** Remembers `rule`'s counters the first time the transaction changes them. */
  rule(rule: RuleState): void {
    if (!this.#rules.has(rule)) {
      this.#rules.set(rule, [rule.storedPulses, rule.storedBytes, rule.watermark]);
    }
  }

  /** Remembers `reality`'s head before the transaction moves it. */
  reality(reality: RealityState): void {
    this.#realities.set(reality, [reality.lastSeq, reality.lastWall, reality.persistedSeq]);
  }

  /** Rolls the open transaction of `db` back and restores every remembered counter. */
  undo(db: DatabaseSync): void {
    rollbackTransaction(db);
    for (const [rule, [pulses, bytes, watermark]] of this.#rules) {
      rule.storedPulses = pulses;
      rule.storedBytes = bytes;
      rule.watermark = watermark;
    }
    for (const [reality, [seq, wall, persisted]] of this.#realities) {
      reality.lastSeq = seq;
      reality.lastWall = wall;
      reality.persistedSeq = persisted;
    }
  }
}

/** Rolls back the open transaction of `db`, if SQLite has not already done so. */
export function rollbackTransaction(db: DatabaseSync): void {
  try {
    db.exec("ROLLBACK");
  } catch { /* SQLite may already have rolled back (e.g. on SQLITE_FULL) */ }
}
