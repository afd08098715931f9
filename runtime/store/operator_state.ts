/**
 * Operators' durable key-value state in the store's database (table `operator_state`): one
 * transaction per commit, so a pulse's writes land together or not at all.
 * @module
 */
import type { DatabaseSync, StatementSync } from "node:sqlite";
import type { OperatorStateStore } from "../spine/mod.ts";

/** The `OperatorStateStore` port over the store's SQLite database. */
export class SqliteOperatorState implements OperatorStateStore {
  readonly #db: DatabaseSync;
  readonly #load: StatementSync;
  readonly #put: StatementSync;
  readonly #delete: StatementSync;
  readonly #drop: StatementSync;

  /** Statements over `db` (whose schema has the table). */
  constructor(db: DatabaseSync) {
    this.#db = db;
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

  loadOperatorState(reality: string, operator: string): [string, Uint8Array][] {
    return this.#load.all(reality, operator).map((row) => [
      row.key as string,
      new Uint8Array(row.value as Uint8Array),
    ]);
  }

  commitOperatorState(
    reality: string,
    operator: string,
    changes: Iterable<readonly [string, Uint8Array | null]>,
  ): void {
    // Group commit runs its transactions synchronously, so none is open here.
    this.#db.exec("BEGIN");
    try {
      for (const [key, value] of changes) {
        if (value === null) this.#delete.run(reality, operator, key);
        else this.#put.run(reality, operator, key, value);
      }
      this.#db.exec("COMMIT");
    } catch (e) {
      this.#db.exec("ROLLBACK");
      throw e;
    }
  }

  dropOperatorState(reality: string, operator: string): void {
    this.#drop.run(reality, operator);
  }
}
