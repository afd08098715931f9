import assert from "node:assert/strict";
import { Gate } from "./gate.ts";

Deno.test("gate: runs at most `limit` at once, queues up to maxQueue, refuses past it, in order", async () => {
  const gate = new Gate(2, 3);
  const releases: (() => void)[] = [];
  const started: number[] = [];
  let peak = 0;
  const task = (i: number) => () =>
    new Promise<void>((resolve) => {
      started.push(i);
      peak = Math.max(peak, gate.running);
      releases.push(resolve);
    });
  const admitted = [0, 1, 2, 3, 4, 5, 6].map((i) => gate.run(task(i)));
  assert.deepEqual(admitted, [true, true, true, true, true, false, false]);
  assert.equal(gate.running, 2);
  assert.equal(gate.waiting, 3);
  while (releases.length) {
    releases.shift()!();
    await new Promise((r) => setTimeout(r, 0));
  }
  assert.deepEqual(started, [0, 1, 2, 3, 4]);
  assert.equal(peak, 2);
  assert.equal(gate.running, 0);
  assert.equal(gate.waiting, 0);
  // A failing task frees its slot too.
  assert.equal(gate.run(() => Promise.reject(new Error("x"))), true);
  await new Promise((r) => setTimeout(r, 0));
  assert.equal(gate.running, 0);
});
