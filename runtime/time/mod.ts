/**
 * Time for the Spine: the hybrid logical clock that stamps pulses, UUIDv7 ids, and the
 * deterministic derivations (seeds, operator outputs, `random-u64`) that make replay exact.
 * @module
 */
export { compareHlc, HybridClock } from "./hlc.ts";
export { Uuid7Generator, uuid7Time } from "./uuid7.ts";
export {
  type DerivationInput,
  type DerivedStamp,
  deriveOutput,
  pulseSeed,
  realitySeed,
} from "./derive.ts";
export { RandomU64 } from "./random.ts";
export { type CausalItem, causalMerge, causalTieBreak } from "./causal_merge.ts";
