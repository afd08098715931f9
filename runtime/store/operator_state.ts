/**
 * Operators' durable key-value state in the store's database (table `operator_state`).
 * Writes are not transactions of their own: they are queued in the group commit behind the
 * output pulses of the input pulse that produced them ({@linkcode StateOp}) and applied in
 * that batch's transaction, so after a crash the stored outputs and the state agree.
 * @module
 */
import type { DatabaseSync, StatementSync } from "node:sqlite";

/** One queued write of an operator's state, applied inside a group commit. */
export type StateOp =
  | {
    /** One input pulse's writes (`null` deletes the key). */
    readonly kind: "changes";
    readonly reality: string;
    readonly operator: string;
    readonly changes: readonly (readonly [string, Uint8Array | null])[];
  }
  | {
    /** The whole state replaced (a restored snapshot). */
    readonly kind: "replace";
    readonly reality: string;
    readonly operator: string;
    readonly entries: readonly (readonly [string, Uint8Array])[];
  }
  | {
    /** All state of an operator deleted. */
    readonly kind: "drop";
    readonly reality: string;
    readonly operator: string;
  };

/** Applies queued state writes; called by the group commit inside its transaction. */
export interface OperatorStateWriter {
  /** Runs `op`'s statements (the caller owns the transaction). */
  apply(op: StateOp): void;
}

/** Reads and writes of table `operator_state` over the store's SQLite database. */
export class SqliteOperatorState implements OperatorStateWriter {
  readonly #load: StatementSync;
  readonly #put: StatementSync;
  readonly #delete: StatementSync;
  readonly #drop: StatementSync;

  /** Statements over `db` (whose schema has the table). */
  constructor(db: DatabaseSync) {
    this.#load = db.prepare(
      "SELECT key, value FROM operator_state WHERE reality = ? AND operator = ? ORDER BY key",
    );
    this.#put = db.prepare(
      "INSERT OR REPLACE INTO operator_state (reality, operator, key, value) VALUES (?, ?, ?, ?)",
    );
    this.#delete = db.prepare(
      "DELETE FROM operator_state WHERE reality = ? AND operator = ? AND key = ?",
    );
    this.#drop = db.prepare("DELETE FROM operator_state WHERE reality = ? AND operator = ?");
  }

  /** The committed entries of an operator, by key. */
  load(reality: string, operator: string): [string, Uint8Array][] {
    return this.#load.all(reality, operator).map((row) => [
      row.key as string,
      new Uint8Array(row.value as Uint8Array),
    ]);
  }

  apply(op: StateOp): void {
    const { reality, operator } = op;
    if (op.kind === "changes") {
      for (const [key, value] of op.changes) {
        if (value === null) this.#delete.run(reality, operator, key);
        else this.#put.run(reality, operator, key, value);
      }
      return;
    }
    this.#drop.run(reality, operator);
    if (op.kind === "replace") {
      for (const [key, value] of op.entries) this.#put.run(reality, operator, key, value);
    }
  }
}
