/**
 * Opening the SQLite file: pragmas per sync policy, the schema, and the checks that turn
 * a corrupt, foreign or busy data directory into a `StoreOpenError` at start.
 * @module
 */
import { DatabaseSync } from "node:sqlite";
import { StoreOpenError } from "./errors.ts";

/** When a commit reaches the disk. */
export type SyncPolicy = "always" | "batch" | "os";

/** Store format written in the `meta` table; bump on incompatible schema changes. */
export const STORE_FORMAT = "arqonbus-store-1";

/** Page size of new stores. */
const PAGE_SIZE = 16384;

/** File name of the database inside the data directory. */
export const DATABASE_FILE = "arqon.db";

/**
 * File name of the marker written beside the database when a store is first created:
 * its presence says the directory holds a store, so a missing or empty database there
 * is a loss to report, not a first start.
 */
export const MARKER_FILE = "arqon.marker";

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS realities (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  config TEXT NOT NULL,
  created_ms INTEGER NOT NULL,
  last_seq INTEGER NOT NULL DEFAULT 0,
  last_wall INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS rules (
  id INTEGER PRIMARY KEY,
  reality INTEGER NOT NULL,
  position INTEGER NOT NULL,
  pattern TEXT NOT NULL,
  stored_pulses INTEGER NOT NULL DEFAULT 0,
  stored_bytes INTEGER NOT NULL DEFAULT 0,
  watermark INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS chunks (
  id INTEGER PRIMARY KEY,
  reality INTEGER NOT NULL,
  rule INTEGER NOT NULL,
  batch_first INTEGER NOT NULL,
  first_seq INTEGER NOT NULL,
  last_seq INTEGER NOT NULL,
  first_wall INTEGER NOT NULL,
  last_wall INTEGER NOT NULL,
  count INTEGER NOT NULL,
  bytes INTEGER NOT NULL,
  meta BLOB NOT NULL,
  data BLOB NOT NULL,
  checksum INTEGER
);
CREATE UNIQUE INDEX IF NOT EXISTS chunks_by_seq ON chunks(reality, last_seq);
CREATE INDEX IF NOT EXISTS chunks_by_rule ON chunks(rule, last_seq);
CREATE INDEX IF NOT EXISTS chunks_by_wall ON chunks(reality, last_wall);
CREATE TABLE IF NOT EXISTS operator_state (
  reality TEXT NOT NULL,
  operator TEXT NOT NULL,
  key TEXT NOT NULL,
  value BLOB NOT NULL,
  PRIMARY KEY (reality, operator, key)
) WITHOUT ROWID;
`;

/** Options of `openStoreDatabase`. */
export interface OpenOptions {
  /** Sync policy (ignored in memory). */
  readonly sync: SyncPolicy;
  /** Caps the database size in bytes (SQLite `max_page_count`); writes beyond fail as on a full disk. */
  readonly maxBytes?: number;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Opens (creating if needed) the store in `dataDir`, or an in-memory store when
 * `dataDir` is null. The connection holds an exclusive lock for its lifetime, so a second
 * node on the same directory fails here instead of interleaving writes.
 */
export function openStoreDatabase(dataDir: string | null, options: OpenOptions): DatabaseSync {
  if (dataDir === null) {
    const db = new DatabaseSync(":memory:");
    db.exec(SCHEMA);
    db.prepare("INSERT OR IGNORE INTO meta VALUES ('format', ?)").run(STORE_FORMAT);
    capSize(db, options.maxBytes);
    return db;
  }
  try {
    Deno.mkdirSync(dataDir, { recursive: true });
  } catch (error) {
    throw new StoreOpenError(dataDir, `cannot create data directory: ${describe(error)}`, {
      cause: error,
    });
  }
  const file = `${dataDir}/${DATABASE_FILE}`;
  const marker = readMarker(dataDir);
  if (marker !== undefined) refuseLostDatabase(file, marker);
  let db: DatabaseSync;
  try {
    db = new DatabaseSync(file);
  } catch (error) {
    throw new StoreOpenError(file, describe(error), { cause: error });
  }
  try {
    db.exec("PRAGMA busy_timeout=0");
    // Chunks are up to 256 KiB: larger pages mean shorter overflow chains (about twice the
    // write rate of 4 KiB pages). Only takes effect when the file is created.
    db.exec(`PRAGMA page_size=${PAGE_SIZE}`);
    const mode = db.prepare("PRAGMA journal_mode=WAL").get() as { journal_mode: string };
    if (mode.journal_mode !== "wal") throw new Error(`journal_mode is ${mode.journal_mode}`);
    db.exec("PRAGMA locking_mode=EXCLUSIVE");
    db.exec(`PRAGMA synchronous=${options.sync === "os" ? "NORMAL" : "FULL"}`);
    db.exec("PRAGMA wal_autocheckpoint=4000");
    // Take the exclusive lock now: a second process on this directory fails at open.
    db.exec("BEGIN IMMEDIATE");
    const tables = db.prepare("SELECT name FROM sqlite_master WHERE type='table'").all() as {
      name: string;
    }[];
    let storeId: string;
    if (tables.length === 0) {
      // A file SQLite reads as empty, in a directory that held a store: refuse too.
      if (marker !== undefined) throw lostDatabase(file, marker, "holds no tables");
      db.exec(SCHEMA);
      db.prepare("INSERT INTO meta VALUES ('format', ?)").run(STORE_FORMAT);
      storeId = crypto.randomUUID();
      db.prepare("INSERT INTO meta VALUES ('store_id', ?)").run(storeId);
    } else {
      const names = new Set(tables.map((t) => t.name));
      if (!names.has("meta")) throw new Error("the database is not an ArqonBus store");
      const format = db.prepare("SELECT value FROM meta WHERE key='format'").get() as
        | { value: string }
        | undefined;
      if (format?.value !== STORE_FORMAT) {
        throw new Error(
          `unsupported store format ${JSON.stringify(format?.value)} (expected ${STORE_FORMAT})`,
        );
      }
      for (const t of ["realities", "rules", "chunks"]) {
        if (!names.has(t)) throw new Error(`table ${t} is missing`);
      }
      storeId = migrate(db);
      if (marker !== undefined && marker.storeId !== storeId) {
        throw new StoreOpenError(
          file,
          `the database is store ${storeId} but ${MARKER_FILE} names store ${marker.storeId}: ` +
            "it was replaced by another store's file (restore the right one)",
        );
      }
    }
    db.exec("COMMIT");
    // After the commit: a crash before this point leaves a store without a marker, which
    // the next start completes (the reverse would refuse a store that was never written).
    if (marker === undefined) writeMarker(dataDir, storeId);
    capSize(db, options.maxBytes);
    return db;
  } catch (error) {
    try {
      db.close();
    } catch { /* already failing */ }
    if (error instanceof StoreOpenError) throw error;
    const message = describe(error);
    const hint = /locked|busy/i.test(message)
      ? " (is another node running on this data directory?)"
      : " (the node does not reset a damaged store: move it away or restore a backup)";
    throw new StoreOpenError(file, message + hint, { cause: error });
  }
}

function capSize(db: DatabaseSync, maxBytes: number | undefined): void {
  if (!maxBytes) return;
  const { page_size } = db.prepare("PRAGMA page_size").get() as { page_size: number };
  db.exec(`PRAGMA max_page_count=${Math.max(1, Math.ceil(maxBytes / page_size))}`);
}

/** What the marker file holds. */
interface Marker {
  readonly format: string;
  readonly storeId: string;
}

function readMarker(dataDir: string): Marker | undefined {
  const path = `${dataDir}/${MARKER_FILE}`;
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw new StoreOpenError(path, `cannot read the marker: ${describe(error)}`, { cause: error });
  }
  try {
    const marker = JSON.parse(text) as Marker;
    if (typeof marker.storeId !== "string" || marker.storeId === "") throw new Error("no storeId");
    return marker;
  } catch (error) {
    throw new StoreOpenError(path, `the marker is damaged (${describe(error)})`, { cause: error });
  }
}

function writeMarker(dataDir: string, storeId: string): void {
  const path = `${dataDir}/${MARKER_FILE}`;
  const temp = `${path}.tmp`;
  const text = JSON.stringify({
    format: STORE_FORMAT,
    storeId,
    createdAt: new Date().toISOString(),
  });
  try {
    const f = Deno.openSync(temp, { write: true, create: true, truncate: true });
    try {
      f.writeSync(new TextEncoder().encode(text + "\n"));
      f.syncSync();
    } finally {
      f.close();
    }
    Deno.renameSync(temp, path);
  } catch (error) {
    throw new StoreOpenError(path, `cannot write the marker: ${describe(error)}`, { cause: error });
  }
}

function lostDatabase(file: string, marker: Marker, what: string): StoreOpenError {
  return new StoreOpenError(
    file,
    `the database ${what}, but this data directory holds store ${marker.storeId} ` +
      `(${MARKER_FILE}): starting would silently drop every acknowledged pulse and restart ` +
      `sequences at 1. Restore ${DATABASE_FILE} (with its -wal file) from a backup, or remove ` +
      `${MARKER_FILE} to start a new, empty store on purpose`,
  );
}

/** Refuses a missing or zero-length database in a directory whose marker says it held a store. */
function refuseLostDatabase(file: string, marker: Marker): void {
  let size: number;
  try {
    size = Deno.statSync(file).size;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) throw lostDatabase(file, marker, "is missing");
    throw new StoreOpenError(file, describe(error), { cause: error });
  }
  if (size === 0) throw lostDatabase(file, marker, "is empty (0 bytes)");
}

/**
 * Brings a store written by an earlier version up to date, inside the open transaction:
 * chunks gain a `checksum` column (NULL for rows written before: read unchecked), the
 * meta table a store id. Returns the store id.
 */
function migrate(db: DatabaseSync): string {
  const columns = db.prepare("PRAGMA table_info(chunks)").all() as { name: string }[];
  if (!columns.some((c) => c.name === "checksum")) {
    db.exec("ALTER TABLE chunks ADD COLUMN checksum INTEGER");
  }
  const row = db.prepare("SELECT value FROM meta WHERE key='store_id'").get() as
    | { value: string }
    | undefined;
  if (row) return row.value;
  const storeId = crypto.randomUUID();
  db.prepare("INSERT INTO meta VALUES ('store_id', ?)").run(storeId);
  return storeId;
}
