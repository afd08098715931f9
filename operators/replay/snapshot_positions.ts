/**
 * Where a verify from a snapshot starts reading the source's outputs, and the positions a
 * verify records on the snapshots it makes (`ReplaySnapshot.after`): each operator's first
 * output after the snapshot's input, so the next verify from it compares from there instead
 * of the whole log.
 * @module
 */
import type { Side } from "./digest.ts";
import type { ReplaySnapshot } from "./snapshots.ts";

/**
 * The source side of a verify from `from` (none: the whole log): from where its positions
 * say each operator's later outputs begin, or, for a snapshot without positions, the whole
 * log with the outputs it accounts for skipped by count. It asks for the positions of the
 * snapshots `made` on the way.
 */
export function sourceSide(
  reality: string,
  from: ReplaySnapshot | undefined,
  made: ReplaySnapshot[],
): Side {
  const marks: Record<string, number[]> = {};
  for (const s of made) {
    for (const [producer, n] of Object.entries(s.outputs)) (marks[producer] ??= []).push(n);
  }
  if (from?.after) {
    const starts = Object.values(from.after);
    return {
      reality,
      fromSeq: (starts.length ? Math.min(...starts) : from.sequence) + 1,
      after: from.after,
      before: from.outputs,
      marks,
    };
  }
  return { reality, skip: from?.outputs, marks };
}

/**
 * `s` with the source positions of its operators' outputs (`ReplaySnapshot.after`) when the
 * comparison found them all; `s` as it is otherwise.
 */
export function withPositions(
  s: ReplaySnapshot,
  source: Side,
  marks: Record<string, Map<number, number>>,
): ReplaySnapshot {
  const after: Record<string, number> = {};
  for (const [producer, n] of Object.entries(s.outputs)) {
    // None yet (n = 0), or none since the side's start: where the side began for it.
    const start = n === (source.before?.[producer] ?? 0)
      ? (source.after?.[producer] ?? 0)
      : marks[producer]?.get(n);
    if (start === undefined) return s;
    // Outputs up to the snapshot's input are all accounted for: later ones follow it.
    after[producer] = Math.max(start, s.sequence);
  }
  return { ...s, after };
}
