/**
 * The durable log's node options: where it lives, when commits reach the disk and how
 * large it may grow, each with a flag. (The key ring for encryption at rest, `--key-file`,
 * is a security option.)
 * @module
 */
import type { Flag } from "../config/mod.ts";

/** Disk options of the durable log; every one has a flag (see `STORE_FLAGS`). */
export interface StoreDiskOptions {
  /**
   * Directory of the durable log; empty keeps it in memory (the CLI defaults to `./data`).
   * @default {""}
   */
  dataDir: string;
  /**
   * Keep the log in memory even when `dataDir` is set.
   * @default {false}
   */
  memory: boolean;
  /**
   * When commits reach the disk: `always`, `batch` (group commit) or `os`.
   * @default {"batch"}
   */
  sync: "always" | "batch" | "os";
  /**
   * Largest size of the durable log's database in bytes (0: unlimited); beyond it
   * publishes fail with STORAGE_FAILED.
   * @default {0}
   */
  maxStoreBytes: number;
}

/** Defaults of {@linkcode StoreDiskOptions}: in memory unless a directory is given. */
export const STORE_DEFAULTS: Readonly<StoreDiskOptions> = Object.freeze({
  dataDir: "",
  memory: false,
  sync: "batch",
  maxStoreBytes: 0,
});

/** The store's options as flags, in `--help` order; the node adds them to its table. */
export const STORE_FLAGS: readonly Flag<keyof StoreDiskOptions>[] = Object.freeze([
  {
    key: "dataDir",
    flag: "data-dir",
    kind: "string",
    env: "ARQON_DATA_DIR",
    help: "directory of the durable log (command line: ./data when unset)",
  },
  { key: "memory", flag: "memory", kind: "bool", help: "keep the log in memory, no disk" },
  {
    key: "sync",
    flag: "sync",
    kind: "enum",
    choices: ["always", "batch", "os"],
    help: "when commits reach the disk: each commit, group commits, or left to the OS",
  },
  {
    key: "maxStoreBytes",
    flag: "max-store-bytes",
    kind: "int",
    help: "cap on the durable log's size; writes beyond fail with STORAGE_FAILED (0: none)",
  },
]);
