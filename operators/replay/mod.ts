/**
 * Replay (issue #14): the input journal of a reality, the engine that re-runs it through
 * the reality's operators, output-log comparison by SHA-256, and the node's replay service
 * with its HTTP routes (`verify`, `fork`, `diff`).
 * @module
 */
export { countInputs, inputPages, isInput, isStoredInput, type LogRange } from "./journal.ts";
export {
  compareOutputs,
  type Comparison,
  type Difference,
  MAX_COUNTED_TOPICS,
  type OutputRecord,
  outputRecord,
} from "./digest.ts";
export {
  replay,
  ReplayCancelled,
  type ReplayContext,
  type ReplayResult,
  type ReplaySpec,
} from "./engine.ts";
export { type DiffAnswer, Replays, type ReplaysOptions, type VerifyAnswer } from "./service.ts";
export {
  type ForkRequest,
  type LogPoint,
  MAX_PARAMS_BYTES,
  parseForkRequest,
} from "./fork_request.ts";
export {
  type ForkOrigin,
  ForkRecord,
  type ForkState,
  type ForkStatus,
  MAX_FORKS,
} from "./forks.ts";
export {
  MAX_SNAPSHOT_REALITIES,
  MAX_SNAPSHOTS_PER_REALITY,
  type ReplaySnapshot,
  SnapshotStore,
} from "./snapshots.ts";
export { replayRoutes, type ReplayRoutesOptions } from "./http.ts";
