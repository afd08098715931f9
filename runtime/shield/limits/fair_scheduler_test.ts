import assert from "node:assert/strict";
import { FairScheduler } from "./mod.ts";

function idle(s: FairScheduler): Promise<void> {
  return new Promise((resolve) => {
    const poll = () => (s.queued === 0 ? resolve() : setTimeout(poll, 1));
    poll();
  });
}

Deno.test("a quiet reality is served within one round of a flooding one", async () => {
  const s = new FairScheduler({ turnBudget: 64 });
  const order: string[] = [];
  for (let i = 0; i < 1000; i++) {
    assert.equal(s.submit("flood", () => order.push(`f${i}`)), undefined);
  }
  for (let i = 0; i < 5; i++) s.submit("quiet", () => order.push(`q${i}`));
  await idle(s);
  assert.equal(order.length, 1005);
  // Round robin: the quiet reality's pulses interleave at the front, not after the flood.
  assert.deepEqual(order.slice(0, 10), [
    "f0",
    "q0",
    "f1",
    "q1",
    "f2",
    "q2",
    "f3",
    "q3",
    "f4",
    "q4",
  ]);
  // Each reality keeps its own order.
  const flood = order.filter((x) => x[0] === "f").map((x) => Number(x.slice(1)));
  assert.deepEqual(flood, [...Array(1000).keys()]);
});

Deno.test("costs are shared fairly: a reality of big tasks gets its quantum in bytes", async () => {
  const s = new FairScheduler({ quantum: 100 });
  const order: string[] = [];
  for (let i = 0; i < 4; i++) s.submit("big", () => order.push("B"), 100);
  for (let i = 0; i < 8; i++) s.submit("small", () => order.push("s"), 25);
  await idle(s);
  assert.deepEqual(order.join(""), "BssssBssssBB");
});

Deno.test("a full reality queue refuses, others still accept; a throwing task is contained", async () => {
  const errors: unknown[] = [];
  const refusals: string[] = [];
  const s = new FairScheduler({
    maxQueuedPerReality: 3,
    onError: (e) => errors.push(e),
    onRefusal: (r) => refusals.push(r),
  });
  let ran = 0;
  for (let i = 0; i < 3; i++) assert.equal(s.submit("a", () => ran++), undefined);
  assert.equal(s.submit("a", () => ran++)?.code, "RATE_LIMITED");
  assert.equal(
    s.submit("b", () => {
      throw new Error("boom");
    }),
    undefined,
  );
  assert.equal(s.submit("b", () => ran++), undefined);
  assert.equal(s.queuedFor("a"), 3);
  await idle(s);
  assert.equal(ran, 4);
  assert.equal(errors.length, 1);
  assert.deepEqual(refusals, ["a"]);
  s.close();
  assert.equal(s.submit("a", () => ran++)?.code, "RATE_LIMITED");
});
