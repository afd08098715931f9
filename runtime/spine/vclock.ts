/**
 * Vector clock stamping (docs/time.md "Vector clocks"): a sequenced pulse's clock is the
 * merge of what its producer reported it had consumed and its own reality's entry, its
 * sequence. Kept apart from the Spine's other stamping so the rule reads in one place.
 * @module
 */
import { BusError, type IPulse, vclockError, type VectorClock } from "../protocol/mod.ts";

/**
 * Checks the clock a producer reported (`Publish.consumed`, or a `vclock` it set on the
 * pulse), before the pulse is sequenced: a refused clock costs no sequence number.
 * Throws INVALID_ARGUMENT.
 */
export function checkReportedClock(pulse: IPulse): void {
  const err = vclockError(pulse.vclock!);
  if (err) throw new BusError("INVALID_ARGUMENT", err);
}

/** Whether a clock has any entry (decoded pulses carry an empty map). */
export function hasEntries(clock: VectorClock): boolean {
  for (const _ in clock) return true;
  return false;
}

/**
 * The clock the node stamps on a pulse of `realityId` sequenced as `sequence`: the
 * reported entries (zeros left out: no dependency) with the pulse's own entry set to its
 * sequence (none while it is 0: a cluster node's sequence comes later), keys in sorted
 * order so equal clocks encode to equal bytes. The reported
 * object is not modified (an operator passes its input's clock).
 *
 * @example
 * ```ts
 * import { stampedClock } from "./vclock.ts";
 * stampedClock({ b: 7, a: 3 }, "a", 12); // { a: 12, b: 7 }
 * stampedClock(undefined, "a", 12); // { a: 12 }
 * ```
 */
export function stampedClock(
  reported: VectorClock | null | undefined,
  realityId: string,
  sequence: number,
): VectorClock {
  if (!reported) return sequence > 0 ? { [realityId]: sequence } : {};
  const keys: string[] = [];
  for (const k in reported) {
    if (k !== realityId && reported[k] > 0) keys.push(k);
  }
  if (keys.length === 0) return sequence > 0 ? { [realityId]: sequence } : {};
  // A cluster node learns the sequence from the fabric after stamping (0 here): its
  // pulses carry their dependencies, and their own entry is (reality_id, sequence).
  if (sequence > 0) keys.push(realityId);
  keys.sort();
  const clock: VectorClock = {};
  for (const k of keys) clock[k] = k === realityId ? sequence : reported[k];
  return clock;
}

/**
 * Whether the clock the node stamps from `reported` is the pulse's own entry alone
 * (`{[realityId]: sequence}`, what {@linkcode stampedClock} returns then): nothing else
 * reported with a value above 0. The stamp then writes that entry without walking the map.
 */
export function ownEntryOnly(reported: VectorClock | null | undefined, realityId: string): boolean {
  if (!reported) return true;
  for (const k in reported) {
    if (k !== realityId && reported[k] > 0) return false;
  }
  return true;
}

/**
 * The entry-wise maximum of two clocks, as a new object (`into` when `from` adds nothing
 * new is still copied: neither argument is modified).
 *
 * @example
 * ```ts
 * import { mergeClocks } from "./vclock.ts";
 * mergeClocks({ a: 3, b: 1 }, { b: 4 }); // { a: 3, b: 4 }
 * ```
 */
export function mergeClocks(into: VectorClock, from: VectorClock): VectorClock {
  const out: VectorClock = { ...into };
  for (const k in from) {
    const v = from[k];
    if (!(out[k] >= v)) out[k] = v;
  }
  return out;
}
