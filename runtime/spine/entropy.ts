/**
 * Deterministic stamps at the Spine's stamping point (docs/time.md): the entropy seed the
 * node gives a pulse published without one, and the derived id and timestamp an operator
 * output (or a replayed input) brings along, which the node keeps instead of stamping its
 * own.
 * @module
 */
import type { IPulse } from "../protocol/mod.ts";
import { pulseSeed, realitySeed } from "../time/mod.ts";

/**
 * Producers whose pulses arrive with their id and timestamp already derived: operator
 * outputs (from their input).
 */
const DERIVED_PREFIX = "operator:";

/** Inputs a replay re-runs with their recorded id and time (only in-process code marks). */
const replayed = new WeakSet<IPulse>();

/**
 * Marks a pulse a replay re-publishes: the Spine keeps its recorded id and timestamp (and
 * its producer stays the original one).
 */
export function markReplayed(pulse: IPulse): IPulse {
  replayed.add(pulse);
  return pulse;
}

/** True when a replay marked the pulse ({@linkcode markReplayed}). */
export function isReplayed(pulse: IPulse): boolean {
  return replayed.has(pulse);
}

/** True when the pulse brings a derived id and timestamp the node keeps. */
export function bringsDerivedStamp(producerId: string, pulse: IPulse): boolean {
  if (!pulse.id || !pulse.timestamp) return false;
  return producerId.startsWith(DERIVED_PREFIX) || replayed.has(pulse);
}

/** Reality seeds by reality id (one SHA-256 per reality, not per pulse). */
const seeds = new Map<string, number>();

/** The seed of a reality, cached. */
export function seedOf(realityId: string): number {
  let seed = seeds.get(realityId);
  if (seed === undefined) {
    if (seeds.size > 100_000) seeds.clear();
    seed = realitySeed(realityId);
    seeds.set(realityId, seed);
  }
  return seed;
}

/**
 * Gives a sequenced pulse without an entropy seed the reality's derived one; true when it
 * did (the node's stamp then carries it).
 */
export function stampEntropy(pulse: IPulse, realityId: string, sequence: number): boolean {
  // Unsequenced here (a cluster node learns the sequence from the stream later): no seed.
  if (sequence === 0) return false;
  const given = pulse.entropySeed;
  if (given !== undefined && given !== null && Number(given) !== 0) return false;
  pulse.entropySeed = pulseSeed(seedOf(realityId), sequence);
  return true;
}
