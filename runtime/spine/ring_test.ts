import assert from "node:assert/strict";
import { Ring } from "./ring.ts";

Deno.test("ring: FIFO order across growth and wrap-around", () => {
  const r = new Ring<number>();
  const expected: number[] = [];
  let next = 0;
  for (let round = 0; round < 200; round++) {
    for (let i = 0; i < (round % 7) + 3; i++) {
      r.push(next);
      expected.push(next++);
    }
    const n = round % 5 + 1;
    assert.deepEqual(r.take(n), expected.splice(0, n));
    if (round % 3 === 0 && r.length > 0) assert.equal(r.shift(), expected.shift());
    assert.equal(r.length, expected.length);
    assert.equal(r.peek(), expected[0]);
  }
  assert.deepEqual(r.take(Infinity), expected);
  assert.equal(r.length, 0);
  assert.equal(r.shift(), undefined);
});

Deno.test("ring: holds at most twice its largest length; an emptied big ring shrinks", () => {
  const r = new Ring<object>();
  for (let i = 0; i < 100_000; i++) {
    r.push({});
    if (r.length > 100) r.shift();
  }
  assert.equal(r.length, 100);
  assert.ok(r.capacity <= 200, `capacity ${r.capacity}`);
  for (let i = 0; i < 5000; i++) r.push({});
  r.take(Infinity);
  assert.ok(r.capacity <= 1024, `an emptied ring gives its slots back (${r.capacity})`);
});
