import assert from "node:assert/strict";
import { RateWindow } from "./rates.ts";

const m = (o: Record<string, number>) => new Map(Object.entries(o));

Deno.test("rates: per-second deltas between readings; new series start at 0", () => {
  const w = new RateWindow();
  w.add(1000, m({ a: 10 }));
  assert.equal(w.latest("a"), 0);
  w.add(2000, m({ a: 30 }));
  assert.equal(w.latest("a"), 20);
  w.add(2500, m({ a: 40, b: 5 }));
  assert.equal(w.latest("a"), 20);
  assert.equal(w.latest("b"), 0);
  assert.deepEqual(w.series("b"), [0, 0]);
  w.add(3500, m({ a: 40, b: 8 }));
  assert.deepEqual(w.series("a"), [20, 20, 0]);
  assert.deepEqual(w.series("b"), [0, 0, 3]);
  assert.deepEqual(w.times, [2, 2.5, 3.5]);
});

Deno.test("rates: a counter that went down counts from zero; a vanished one reads 0", () => {
  const w = new RateWindow();
  w.add(0, m({ a: 100, b: 1 }));
  w.add(1000, m({ a: 4 }));
  assert.equal(w.latest("a"), 4);
  assert.equal(w.latest("b"), 0);
  assert.equal(w.series("b").length, w.times.length);
});

Deno.test("rates: the window keeps its last points; readings out of order are skipped", () => {
  const w = new RateWindow(3);
  for (let i = 0; i <= 10; i++) w.add(i * 1000, m({ a: i * i }));
  assert.deepEqual(w.times, [8, 9, 10]);
  assert.deepEqual(w.series("a"), [15, 17, 19]);
  w.add(9000, m({ a: 0 }));
  assert.deepEqual(w.times, [8, 9, 10]);
  w.add(11000, m({ a: 121 }));
  assert.equal(w.latest("a"), 21);
});
