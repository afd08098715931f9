/**
 * Replay (issue #14): the input journal of a reality, the engine that re-runs it through
 * the reality's operators, output-log comparison by SHA-256, and the node's replay service
 * with its HTTP routes (`verify`).
 * @module
 */
export { countInputs, inputPages, isInput, type LogRange } from "./journal.ts";
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
export { Replays, type ReplaysOptions, type VerifyAnswer } from "./service.ts";
export { replayRoutes, type ReplayRoutesOptions } from "./http.ts";
