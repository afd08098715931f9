/**
 * The bench's output check (bench/operators/load.ts) must catch what "fails loudly" promises:
 * a lost output, a duplicate, a stray output and a running sum that skipped an input.
 */
import assert from "node:assert/strict";
import { OutputCheck, valueOf } from "./load.ts";

const enc = new TextEncoder();
const out = (i: number, sum?: number) => ({ payload: enc.encode(JSON.stringify({ i, sum })) });

/** The running sums from `base` over inputs 0..n-1, skipping `skip`. */
function sums(n: number, base = 0, skip = -1): number[] {
  const s: number[] = [];
  let acc = base;
  for (let i = 0; i < n; i++) {
    if (i !== skip) acc += valueOf(i);
    s.push(acc);
  }
  return s;
}

Deno.test("every output once with exact sums passes, from any starting state", () => {
  const check = new OutputCheck(100, true);
  sums(100, 12_345).forEach((s, i) => assert.equal(check.take(out(i, s)), i));
  assert.equal(check.received, 100);
  assert.ok(check.passed(100));
});

Deno.test("a lost output leaves the count short", () => {
  const check = new OutputCheck(100, true);
  sums(100).forEach((s, i) => i !== 40 && check.take(out(i, s)));
  assert.equal(check.received, 99);
  // An output lost after the computation leaves the sums right: the count fails the run.
  assert.ok(check.ok);
  assert.ok(!check.passed(100));
});

Deno.test("an input the computation never saw shows in the sums", () => {
  const check = new OutputCheck(100, true);
  sums(100, 0, 40).forEach((s, i) => i !== 40 && check.take(out(i, s)));
  assert.equal(check.badSums, 59);
  assert.ok(!check.passed(99));
});

Deno.test("duplicates and stray outputs fail the check", () => {
  const check = new OutputCheck(10, false);
  check.take(out(3));
  assert.equal(check.take(out(3)), -1);
  assert.equal(check.take(out(10)), -1);
  assert.equal(check.take({ payload: enc.encode('{"x":1}') }), -1);
  assert.equal(check.duplicates, 1);
  assert.equal(check.foreign, 2);
  assert.equal(check.received, 1);
  assert.ok(!check.passed(1));
});
