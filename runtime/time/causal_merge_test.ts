import assert from "node:assert/strict";
import { type CausalItem, causalMerge } from "./causal_merge.ts";

const item = (reality: string, sequence: number, clock: Record<string, number>): CausalItem => ({
  reality,
  sequence,
  clock: { ...clock, [reality]: sequence },
});
const names = (xs: CausalItem[]) => xs.map((p) => `${p.reality}:${p.sequence}`);

Deno.test("causalMerge: dependencies first, sequence order kept, ties broken the same way", () => {
  const a = [item("a", 1, {}), item("a", 2, { b: 2 }), item("a", 3, {})];
  const b = [item("b", 1, {}), item("b", 2, { a: 1 }), item("b", 3, { a: 3 })];
  const merged = names(causalMerge([a, b]));
  assert.deepEqual(merged, ["a:1", "b:1", "b:2", "a:2", "a:3", "b:3"]);
  // The order of the lists given does not matter.
  assert.deepEqual(names(causalMerge([b, a])), merged);
});

Deno.test("causalMerge: a forged cycle still yields every pulse once", () => {
  const a = [item("a", 1, { b: 1 })];
  const b = [item("b", 1, { a: 1 })];
  assert.deepEqual(names(causalMerge([a, b])), ["a:1", "b:1"]);
});
