/**
 * The causal merge of several realities' histories (docs/time.md "Vector clocks"): one
 * order that respects each reality's sequence order and every vector clock dependency
 * among the pulses given, with a deterministic tie-break between concurrent pulses, so
 * that every reader of the same pulses sees the same order.
 * @module
 */

/** One pulse as the merge sees it. */
export interface CausalItem {
  /** Its reality. */
  readonly reality: string;
  /** Its sequence in that reality. */
  readonly sequence: number;
  /** Its vector clock (reality -> sequence); empty when the node stamped none. */
  readonly clock: Readonly<Record<string, number>>;
}

/**
 * The tie-break between pulses whose dependencies are all out: the smaller sum of clock
 * entries first (fewer events in its causal past), then the reality id (code unit
 * order), then the sequence. Negative when `a` goes first.
 */
export function causalTieBreak(a: CausalItem, b: CausalItem): number {
  const sa = clockSum(a);
  const sb = clockSum(b);
  if (sa !== sb) return sa - sb;
  if (a.reality !== b.reality) return a.reality < b.reality ? -1 : 1;
  return a.sequence - b.sequence;
}

function clockSum(item: CausalItem): number {
  let sum = 0;
  for (const k in item.clock) sum += item.clock[k];
  // A pulse without a clock counts its own entry.
  return sum === 0 ? item.sequence : sum;
}

/**
 * Merges per-reality lists (each in sequence order) into one causal order. A pulse goes
 * out once every pulse given that it depends on went out: in its reality, those before
 * it; in another reality X, those with a sequence up to its `clock[X]`. Among the pulses
 * ready, {@linkcode causalTieBreak} picks. A cycle (only forged clocks make one) is broken
 * by the same tie-break over the lists' heads.
 *
 * @example
 * ```ts
 * import { causalMerge } from "./causal_merge.ts";
 * const a = [{ reality: "a", sequence: 1, clock: { a: 1, b: 1 } }];
 * const b = [{ reality: "b", sequence: 1, clock: { b: 1 } }];
 * causalMerge([a, b]).map((p) => `${p.reality}:${p.sequence}`); // ["b:1", "a:1"]
 * ```
 */
export function causalMerge<T extends CausalItem>(lists: readonly (readonly T[])[]): T[] {
  const at = lists.map(() => 0);
  const index = new Map<string, number>();
  lists.forEach((l, i) => {
    if (l.length > 0) index.set(l[0].reality, i);
  });
  const total = lists.reduce((n, l) => n + l.length, 0);
  const out: T[] = [];
  // Whether every pulse `item` depends on among the lists went out already.
  const ready = (item: T): boolean => {
    for (const x in item.clock) {
      if (x === item.reality) continue;
      const i = index.get(x);
      if (i === undefined) continue;
      const head = lists[i][at[i]];
      if (head !== undefined && head.sequence <= item.clock[x]) return false;
    }
    return true;
  };
  while (out.length < total) {
    let best = -1;
    let forced = -1;
    for (let i = 0; i < lists.length; i++) {
      const head = lists[i][at[i]];
      if (head === undefined) continue;
      if (forced < 0 || causalTieBreak(head, lists[forced][at[forced]]) < 0) forced = i;
      if (!ready(head)) continue;
      if (best < 0 || causalTieBreak(head, lists[best][at[best]]) < 0) best = i;
    }
    const i = best >= 0 ? best : forced;
    out.push(lists[i][at[i]++]);
  }
  return out;
}
