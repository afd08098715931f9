import assert from "node:assert/strict";
import { setImmediate } from "node:timers";
import { FairScheduler } from "./mod.ts";

function idle(s: FairScheduler): Promise<void> {
  return new Promise((resolve) => {
    const poll = () => (s.queued === 0 ? resolve() : setTimeout(poll, 1));
    poll();
  });
}

/** Runs `task` now when the scheduler allows it, else queues it: what the node does. */
function offer(s: FairScheduler, reality: string, cost: number, task: () => void): boolean {
  if (s.mayRunNow(reality, cost)) {
    task();
    return true;
  }
  return s.submit(reality, task, cost) === undefined;
}

Deno.test("work runs at once up to one quantum per turn, then queues in order", async () => {
  const s = new FairScheduler({ quantum: 100 });
  const order: number[] = [];
  for (let i = 0; i < 10; i++) assert.ok(offer(s, "a", 30, () => order.push(i)));
  // 30 + 30 + 30 + 30 reaches the quantum: four ran inline, six wait.
  assert.deepEqual(order, [0, 1, 2, 3]);
  assert.equal(s.queuedFor("a"), 6);
  assert.deepEqual(s.loads(), [{ realityId: "a", tasks: 6, cost: 180 }]);
  await idle(s);
  assert.deepEqual(order, [...Array(10).keys()]);
  assert.deepEqual(s.loads(), []);
});

Deno.test("a quiet reality runs at once while a flooding one waits in its lane", async () => {
  const s = new FairScheduler({ quantum: 100 });
  const order: string[] = [];
  for (let i = 0; i < 50; i++) offer(s, "flood", 50, () => order.push(`f${i}`));
  // The quiet reality has spent nothing this turn and has nothing queued.
  offer(s, "quiet", 10, () => order.push("q0"));
  assert.deepEqual(order, ["f0", "f1", "q0"]);
  // The turn ends: the flood's lane gets one quantum (two tasks); the quiet reality's next
  // pulse again runs at once, ahead of the 46 the flood still has queued.
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(order, ["f0", "f1", "q0", "f2", "f3"]);
  offer(s, "quiet", 10, () => order.push("q1"));
  assert.equal(order.at(-1), "q1");
  assert.equal(s.queuedFor("flood"), 46);
  await idle(s);
  const flood = order.filter((x) => x[0] === "f").map((x) => Number(x.slice(1)));
  assert.deepEqual(flood, [...Array(50).keys()]);
});

Deno.test("queued lanes share each round by cost (deficit round robin)", async () => {
  const s = new FairScheduler({ quantum: 100 });
  const order: string[] = [];
  // Exhaust both realities' inline share so everything queues.
  assert.ok(s.mayRunNow("big", 100));
  assert.ok(s.mayRunNow("small", 100));
  for (let i = 0; i < 4; i++) s.submit("big", () => order.push("B"), 100);
  for (let i = 0; i < 8; i++) s.submit("small", () => order.push("s"), 25);
  await idle(s);
  assert.deepEqual(order.join(""), "BssssBssssBB");
});

Deno.test("a full lane refuses, others still accept; a throwing task is contained", async () => {
  const errors: unknown[] = [];
  const refusals: [string, number][] = [];
  const s = new FairScheduler({
    quantum: 10,
    maxQueuedPerReality: 30,
    onError: (e) => errors.push(e),
    onRefusal: (r, cost) => refusals.push([r, cost]),
  });
  let ran = 0;
  assert.ok(s.mayRunNow("a", 10));
  assert.equal(s.mayRunNow("a", 10), false);
  for (let i = 0; i < 3; i++) assert.equal(s.submit("a", () => ran++, 10), undefined);
  const refused = s.submit("a", () => ran++, 10);
  assert.equal(refused?.code, "RATE_LIMITED");
  assert.match(refused!.message, /fair share/);
  // One task is always taken however big, so no message is refused for its size alone.
  assert.equal(s.submit("huge", () => ran++, 1_000), undefined);
  assert.equal(
    s.submit("b", () => {
      throw new Error("boom");
    }, 1),
    undefined,
  );
  await idle(s);
  assert.equal(ran, 4);
  assert.equal(errors.length, 1);
  assert.deepEqual(refusals, [["a", 10]]);
  s.close();
  assert.equal(s.submit("a", () => ran++)?.code, "RATE_LIMITED");
  assert.equal(s.mayRunNow("a", 1), true);
});

Deno.test("idle realities are forgotten at the end of a turn", async () => {
  const s = new FairScheduler({ quantum: 10 });
  for (let i = 0; i < 1000; i++) assert.ok(s.mayRunNow(`r${i}`, 1));
  await new Promise((r) => setTimeout(r, 5));
  // A new turn: everyone's share is whole again.
  for (let i = 0; i < 10; i++) assert.ok(s.mayRunNow("r1", 1));
  assert.equal(s.mayRunNow("r1", 1), false);
  assert.equal(s.queued, 0);
});
