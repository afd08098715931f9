/**
 * The A2A endpoint's options, each with a flag.
 * @module
 */
import type { Flag } from "../../config/mod.ts";

/** Bounds of the A2A endpoint (see {@linkcode A2A_FLAGS}). */
export interface A2aOptions {
  /**
   * A2A tasks the node keeps; past it the oldest idle task is forgotten, and with every
   * task running a new call is refused (JSON-RPC -32603, reason `QUOTA_EXCEEDED`).
   * @default {10000}
   */
  a2aMaxTasks: number;
  /**
   * Skills the node's `/.well-known/agent-card.json` lists (one per agent); the rest are
   * counted in its description and listed at `/v1/realities/{r}/agents`.
   * @default {256}
   */
  a2aCardMaxSkills: number;
}

/** Defaults of {@linkcode A2aOptions}. */
export const A2A_DEFAULTS: Readonly<A2aOptions> = Object.freeze({
  a2aMaxTasks: 10_000,
  a2aCardMaxSkills: 256,
});

/** The A2A options as flags. */
export const A2A_FLAGS: readonly Flag<keyof A2aOptions>[] = Object.freeze([
  {
    key: "a2aMaxTasks",
    flag: "a2a-max-tasks",
    kind: "int",
    help: "A2A tasks kept; with all running, new calls are refused (-32603 QUOTA_EXCEEDED)",
  },
  {
    key: "a2aCardMaxSkills",
    flag: "a2a-card-max-skills",
    kind: "int",
    help: "skills listed in /.well-known/agent-card.json (one per agent)",
  },
]);
