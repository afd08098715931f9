import assert from "node:assert/strict";
import { setImmediate } from "node:timers";
import { FairScheduler } from "./mod.ts";

function idle(s: FairScheduler): Promise<void> {
  return new Promise((resolve) => {
    const poll = () => (s.queued === 0 ? resolve() : setTimeout(poll, 1));
    poll();
  });
}

/**
 * The schedulers' clock in these tests: work "takes" exactly what it says (`spin`), so
 * the order is deterministic however loaded the machine is.
 */
let now = 0;
const clock = () => now;
function spin(ms: number): void {
  now += ms;
}

/** Runs `task` now when the scheduler allows it, else queues it: what the node does. */
function offer(s: FairScheduler, reality: string, task: () => void, bytes = 100): boolean {
  return s.runNow(reality, task) || s.submit(reality, task, bytes) === undefined;
}

Deno.test("work runs at once until the reality spent its quantum this turn, then queues in order", async () => {
  const s = new FairScheduler({ quantumMs: 2, clock });
  const order: number[] = [];
  for (let i = 0; i < 10; i++) assert.ok(offer(s, "a", () => (spin(0.75), order.push(i))));
  // 0.75 + 0.75 left credit, the third overran it: three ran inline, the rest wait.
  const inline = order.length;
  assert.equal(inline, 3);
  assert.equal(s.queuedFor("a"), 10 - inline);
  assert.deepEqual(s.loads(), [{ realityId: "a", tasks: 10 - inline, bytes: (10 - inline) * 100 }]);
  // Once a reality has queued work, later work queues behind it, whatever the turn.
  assert.equal(s.runNow("a", () => order.push(-1)), false);
  await idle(s);
  assert.deepEqual(order, [...Array(10).keys()]);
  assert.deepEqual(s.loads(), []);
});

Deno.test("a quiet reality runs at once while a flooding one waits in its lane", async () => {
  const s = new FairScheduler({ quantumMs: 1, clock });
  const order: string[] = [];
  for (let i = 0; i < 50; i++) offer(s, "flood", () => (spin(0.25), order.push(`f${i}`)));
  const floodInline = order.length;
  assert.equal(floodInline, 4);
  // The quiet reality has spent nothing this turn and has nothing queued.
  assert.ok(s.runNow("quiet", () => order.push("q0")));
  assert.equal(order.at(-1), "q0");
  // The turn ends: the flood's lane gets one quantum; the quiet reality's next pulse again
  // runs at once, ahead of everything the flood still has queued.
  await new Promise((r) => setImmediate(r));
  // Its credit renewed to 1 ms, it runs four more (0.25 ms each) in the round.
  const servedInRound = order.length - floodInline - 1;
  assert.equal(servedInRound, 4);
  assert.ok(s.runNow("quiet", () => order.push("q1")));
  assert.equal(order.at(-1), "q1");
  assert.ok(s.queuedFor("flood") > 0);
  await idle(s);
  const flood = order.filter((x) => x[0] === "f").map((x) => Number(x.slice(1)));
  assert.deepEqual(flood, [...Array(50).keys()]);
});

Deno.test("queued lanes share each round by time: cheap tasks are not stuck behind costly ones", async () => {
  const s = new FairScheduler({ quantumMs: 2, clock });
  const order: string[] = [];
  // Spend both realities' inline share so everything queues.
  assert.ok(s.runNow("big", () => spin(2)));
  assert.ok(s.runNow("small", () => spin(2)));
  for (let i = 0; i < 4; i++) s.submit("big", () => (spin(2), order.push("B")));
  for (let i = 0; i < 8; i++) s.submit("small", () => (spin(0.5), order.push("s")));
  await idle(s);
  // Equal time per round: one 2 ms task of the big reality, four 0.5 ms ones of the
  // small; round robin by count would alternate B and s.
  assert.equal(order.join(""), "BssssBssssBB");
});

Deno.test("a full lane refuses, others still accept; a throwing task is contained", async () => {
  const errors: unknown[] = [];
  const refusals: [string, number][] = [];
  const s = new FairScheduler({
    clock,
    quantumMs: 0.001,
    maxQueuedPerReality: 30,
    onError: (e) => errors.push(e),
    onRefusal: (r, bytes) => refusals.push([r, bytes]),
  });
  let ran = 0;
  assert.ok(s.runNow("a", () => spin(0.01)));
  assert.equal(s.runNow("a", () => ran++), false);
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
  assert.equal(s.runNow("a", () => ran++), true);
  assert.equal(ran, 5);
});

Deno.test("idle realities are forgotten at the end of a turn; shares renew each turn", async () => {
  const s = new FairScheduler({ quantumMs: 1, clock });
  for (let i = 0; i < 1000; i++) assert.ok(s.runNow(`r${i}`, () => {}));
  assert.ok(s.runNow("r1", () => spin(1.1)));
  assert.equal(s.runNow("r1", () => {}), false);
  // An immediate queued after the scheduler's own runs after its turn end (a timer might
  // fire first on a loaded machine).
  await new Promise((r) => setImmediate(r));
  // A new turn: the share is whole again.
  assert.ok(s.runNow("r1", () => {}));
  assert.equal(s.queued, 0);
});

Deno.test("a lane owing many quanta is served in the next turn when no other lane can run", async () => {
  const s = new FairScheduler({ quantumMs: 0.001, clock });
  const order: number[] = [];
  // Each task overruns the 1 µs quantum a thousand times over.
  for (let i = 0; i < 5; i++) offer(s, "a", () => (spin(1), order.push(i)));
  assert.equal(order.length, 1);
  // One turn per task, not a thousand: the idle rounds are skipped.
  for (let turn = 1; turn < 5; turn++) {
    await new Promise((r) => setImmediate(r));
    assert.equal(order.length, turn + 1);
  }
  assert.deepEqual(order, [0, 1, 2, 3, 4]);
});

Deno.test("skipped rounds keep the shares: two owing lanes alternate by what they owe", async () => {
  const s = new FairScheduler({ quantumMs: 0.001, clock });
  const order: string[] = [];
  // b owes twice what a owes per task: a runs twice for each run of b.
  for (let i = 0; i < 6; i++) offer(s, "a", () => (spin(1), order.push("a")));
  for (let i = 0; i < 3; i++) offer(s, "b", () => (spin(2), order.push("b")));
  await idle(s);
  assert.deepEqual(order.slice(0, 2), ["a", "b"]);
  const firstB = order.indexOf("b");
  const rest = order.slice(firstB + 1);
  assert.equal(rest.filter((x) => x === "a").length, 5);
  assert.equal(rest.filter((x) => x === "b").length, 2);
});

Deno.test("with nothing queued the turn ends through idleTurn; queued work waits for nextTurn", () => {
  const turns: (() => void)[] = [];
  const idles: (() => void)[] = [];
  const s = new FairScheduler({
    quantumMs: 1,
    clock,
    nextTurn: (callback) => turns.push(callback),
    idleTurn: (callback) => idles.push(callback),
  });
  const order: string[] = [];
  // Uncontended work: the turn end only renews the credit, no readiness check is asked for.
  assert.ok(s.runNow("a", () => (spin(0.75), order.push("a0"))));
  assert.equal(idles.length, 1);
  assert.equal(turns.length, 0);
  idles.splice(0).forEach((t) => t());
  // Renewed to a whole quantum: 0.75 ms more runs at once again.
  assert.ok(s.runNow("a", () => (spin(0.75), order.push("a1"))));
  assert.ok(s.runNow("a", () => (spin(0.75), order.push("a2"))));
  assert.equal(s.runNow("a", () => order.push("no")), false);
  // Work queued while the idle turn end is pending: its round waits for nextTurn, and the
  // idle callback, when it comes, does nothing.
  assert.equal(s.submit("a", () => order.push("a3"), 10), undefined);
  assert.equal(turns.length, 1);
  idles.splice(0).forEach((t) => t());
  assert.equal(s.queuedFor("a"), 1);
  assert.deepEqual(order, ["a0", "a1", "a2"]);
  for (let i = 0; i < 10 && s.queued > 0; i++) turns.splice(0).forEach((t) => t());
  assert.deepEqual(order, ["a0", "a1", "a2", "a3"]);
  s.close();
});
