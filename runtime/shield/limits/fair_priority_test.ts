import assert from "node:assert/strict";
import { BatchBuilder, encodeFrame, peekPublishLane } from "../../protocol/mod.ts";
import { FairScheduler, PRIORITY_NORMAL, PRIORITY_URGENT, PRIORITY_YIELDING } from "./mod.ts";

function idle(s: FairScheduler): Promise<void> {
  return new Promise((resolve) => {
    const poll = () => (s.queued === 0 ? resolve() : setTimeout(poll, 1));
    poll();
  });
}

let now = 0;
const clock = () => now;

Deno.test("urgent work overtakes its reality's queue and credit; yielding work goes last", async () => {
  const s = new FairScheduler({ quantumMs: 1, clock });
  const order: string[] = [];
  const task = (tag: string, ms = 0.6) => () => {
    now += ms;
    order.push(tag);
  };
  // Spend the credit: the rest queues.
  assert.ok(s.runNow("a", task("n0")));
  assert.ok(s.runNow("a", task("n1")));
  assert.equal(s.runNow("a", task("x")), false, "out of credit");
  assert.equal(s.submit("a", task("b0"), 10, PRIORITY_YIELDING), undefined);
  assert.equal(s.submit("a", task("n2"), 10, PRIORITY_NORMAL), undefined);
  assert.equal(s.submit("a", task("n3"), 10), undefined);
  // A critical message runs at once though the reality is out of credit and has a queue.
  assert.ok(s.runNow("a", task("c0"), PRIORITY_URGENT));
  // Once urgent work waits, later urgent work queues behind it, in order.
  assert.equal(s.submit("a", task("c1"), 10, PRIORITY_URGENT), undefined);
  assert.equal(s.runNow("a", task("x"), PRIORITY_URGENT), false);
  assert.equal(s.submit("a", task("c2"), 10, PRIORITY_URGENT), undefined);
  // Another reality's normal work is not ahead of a's urgent work either; a paid for
  // that work (its credit is owed), so b's normal work comes before a's.
  assert.equal(s.submit("b", task("m0"), 10), undefined);
  assert.equal(s.queuedFor("a"), 5);
  await idle(s);
  assert.deepEqual(order, ["n0", "n1", "c0", "c1", "c2", "m0", "n2", "n3", "b0"]);
  assert.deepEqual(s.loads(), []);
});

Deno.test("queued work of every priority counts against the reality's byte bound", () => {
  const s = new FairScheduler({ quantumMs: 1, clock, maxQueuedPerReality: 100 });
  now += 5;
  assert.ok(s.runNow("a", () => now += 5));
  assert.equal(s.submit("a", () => {}, 60, PRIORITY_URGENT), undefined);
  const refusal = s.submit("a", () => {}, 60, PRIORITY_YIELDING);
  assert.equal(refusal?.code, "RATE_LIMITED");
  s.close();
});

Deno.test("peekPublishLane reads the first publish's lane of a frame or a batch", () => {
  const pulse = { topic: "a.b", payload: new Uint8Array(3), realityId: "r" };
  const critical = encodeFrame({ publish: { correlationId: 1, pulse: { ...pulse, lane: 2 } } });
  const plain = encodeFrame({ publish: { correlationId: 2, pulse } });
  assert.equal(peekPublishLane(critical), 2);
  assert.equal(peekPublishLane(plain), 0);
  const b = new BatchBuilder();
  b.addFrame(critical);
  b.addFrame(plain);
  assert.equal(peekPublishLane(b.finish()), 2);
  const b2 = new BatchBuilder();
  b2.addFrame(plain);
  b2.addFrame(critical);
  assert.equal(peekPublishLane(b2.finish()), 0, "the first publish decides");
  assert.equal(peekPublishLane(new Uint8Array([0xff, 0xff, 0xff])), 0, "malformed: none");
  assert.equal(peekPublishLane(critical.subarray(0, critical.length - 4)), 0, "truncated");
});
