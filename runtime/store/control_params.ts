/**
 * Control parameter sets in the store's database (table `control_params`, one row per
 * reality: its latest version), the `ControlParamStore` port of the Spine.
 * @module
 */
import type { DatabaseSync, StatementSync } from "node:sqlite";
import type { ControlParamStore, StoredParamSet } from "../spine/mod.ts";

// Created here rather than in the schema: stores written before control parameters
// existed gain the table when they are next opened.
const TABLE = `CREATE TABLE IF NOT EXISTS control_params (
  reality TEXT PRIMARY KEY,
  version INTEGER NOT NULL,
  params TEXT NOT NULL,
  updated_ms INTEGER NOT NULL
) WITHOUT ROWID`;

/** The `ControlParamStore` port over the store's SQLite database. */
export class SqliteControlParams implements ControlParamStore {
  readonly #load: StatementSync;
  readonly #save: StatementSync;
  readonly #delete: StatementSync;

  /** Statements over `db`, creating the table when it is missing. */
  constructor(db: DatabaseSync) {
    db.exec(TABLE);
    this.#load = db.prepare(
      "SELECT reality, version, params, updated_ms FROM control_params ORDER BY reality",
    );
    this.#save = db.prepare(
      "INSERT OR REPLACE INTO control_params (reality, version, params, updated_ms) VALUES (?, ?, ?, ?)",
    );
    this.#delete = db.prepare("DELETE FROM control_params WHERE reality=?");
  }

  loadControlParams(): StoredParamSet[] {
    return this.#load.all().map((row) => ({
      reality: row.reality as string,
      version: Number(row.version),
      params: row.params as string,
      updatedMs: Number(row.updated_ms),
    }));
  }

  saveControlParams(set: StoredParamSet): void {
    // Group commit runs its transactions synchronously, so none is open here: this
    // statement commits (and syncs under the store's policy) on its own.
    this.#save.run(set.reality, set.version, set.params, set.updatedMs);
  }

  deleteControlParams(reality: string): void {
    this.#delete.run(reality);
  }
}
