/**
 * The operators' node options, in the shape of the node's flag table (`--operator-*`).
 * @module
 */
import type { Flag } from "../runtime/config/mod.ts";

/** Operator limits of a node; every one has a flag. */
export interface OperatorOptions {
  /**
   * Most bytes (keys plus values) of one operator's durable state.
   * @default {1048576}
   */
  operatorStateBytes: number;
  /**
   * Failed pulses within `operatorFailureWindowMs` that quarantine an operator.
   * @default {10}
   */
  operatorMaxFailures: number;
  /**
   * The window of `operatorMaxFailures`, in ms.
   * @default {60000}
   */
  operatorFailureWindowMs: number;
  /**
   * Most parallel instances (Workers) of one operator (`instances` in its manifest).
   * @default {8}
   */
  operatorMaxInstances: number;
  /**
   * Replays (forks and verifies, docs/time.md) running at once; one more is refused with
   * QUOTA_EXCEEDED.
   * @default {2}
   */
  replayMaxConcurrent: number;
  /**
   * A replay without parameter overrides (a verify, a fork) snapshots the operators' state
   * every this many inputs; later verifies and mid-log forks start from the nearest one
   * (0: never).
   * @default {10000}
   */
  snapshotEvery: number;
  /**
   * CPUs the operators' Workers run on, in the kernel's list notation (`0`, `0,2-3`); empty:
   * where the node's process runs. Pins each Worker thread at its start (Linux).
   * @default {""}
   */
  operatorCpus: string;
}

/** Defaults of {@linkcode OperatorOptions}. */
export const OPERATOR_DEFAULTS: Readonly<OperatorOptions> = Object.freeze({
  operatorStateBytes: 1 << 20,
  operatorMaxFailures: 10,
  operatorFailureWindowMs: 60_000,
  operatorMaxInstances: 8,
  replayMaxConcurrent: 2,
  snapshotEvery: 10_000,
  operatorCpus: "",
});

/** The operator limits as flags (`--operator-*`); the node adds them to its table. */
export const OPERATOR_FLAGS: readonly Flag<keyof OperatorOptions>[] = Object.freeze([
  {
    key: "operatorStateBytes",
    flag: "operator-state-bytes",
    kind: "int",
    env: "ARQON_OPERATOR_STATE_BYTES",
    help: "most bytes of one operator's durable key-value state (keys plus values)",
  },
  {
    key: "operatorMaxFailures",
    flag: "operator-max-failures",
    kind: "int",
    env: "ARQON_OPERATOR_MAX_FAILURES",
    help: "failed pulses within --operator-failure-window-ms that quarantine an operator",
  },
  {
    key: "operatorFailureWindowMs",
    flag: "operator-failure-window-ms",
    kind: "int",
    env: "ARQON_OPERATOR_FAILURE_WINDOW_MS",
    help: "the window of --operator-max-failures, in ms",
  },
  {
    key: "operatorMaxInstances",
    flag: "operator-max-instances",
    kind: "int",
    env: "ARQON_OPERATOR_MAX_INSTANCES",
    help: "most parallel instances (Workers) of one operator (its manifest's instances)",
  },
  {
    key: "replayMaxConcurrent",
    flag: "replay-max-concurrent",
    kind: "int",
    env: "ARQON_REPLAY_MAX_CONCURRENT",
    help: "forks and verifies (replays of a reality's inputs) running at once",
  },
  {
    key: "snapshotEvery",
    flag: "snapshot-every",
    kind: "int",
    env: "ARQON_SNAPSHOT_EVERY",
    help: "replays snapshot operator state every this many inputs (0: never); " +
      "verify and fork start from the nearest",
  },
  {
    key: "operatorCpus",
    flag: "operator-cpus",
    kind: "string",
    env: "ARQON_OPERATOR_CPUS",
    help: "CPUs for the operators' Workers, e.g. 0 or 2-3 (default: where the node runs)",
  },
]);
