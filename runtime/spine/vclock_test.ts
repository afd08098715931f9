import assert from "node:assert/strict";
import { mergeClocks, ownEntryOnly, stampedClock } from "./vclock.ts";

Deno.test("stampedClock: reported entries plus the own one, sorted, zeros dropped", () => {
  const reported = { z: 3, a: 0, m: 9 };
  const clock = stampedClock(reported, "m", 12);
  assert.deepEqual(clock, { m: 12, z: 3 });
  assert.deepEqual(Object.keys(stampedClock({ z: 1, b: 2 }, "c", 1)), ["b", "c", "z"]);
  assert.deepEqual(reported, { z: 3, a: 0, m: 9 }, "the reported clock is not modified");
  assert.deepEqual(stampedClock(undefined, "r", 4), { r: 4 });
  assert.deepEqual(stampedClock({}, "r", 4), { r: 4 });
});

Deno.test("mergeClocks takes the entry-wise maximum", () => {
  assert.deepEqual(mergeClocks({ a: 3, b: 1 }, { b: 4, c: 2 }), { a: 3, b: 4, c: 2 });
});

Deno.test("ownEntryOnly says when the stamped clock is the own entry alone", () => {
  for (
    const [reported, own] of [
      [undefined, true],
      [{}, true],
      [{ r: 3 }, true],
      [{ a: 0 }, true],
      [{ a: 1 }, false],
      [{ r: 2, a: 0, b: 4 }, false],
    ] as const
  ) {
    assert.equal(ownEntryOnly(reported, "r"), own, JSON.stringify(reported));
    // It agrees with stampedClock: the own entry alone exactly when it says so.
    const clock = stampedClock(reported, "r", 9);
    assert.equal(Object.keys(clock).length === 1 && clock.r === 9, own);
  }
});
