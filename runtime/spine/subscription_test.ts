import assert from "node:assert/strict";
import { NodeMetrics } from "../telemetry/mod.ts";
import { Spine } from "./spine.ts";
import { StampedPulse } from "./stamped.ts";
import { type OverflowMode, Subscription, type SubscriptionOwner } from "./subscription.ts";

const owner: SubscriptionOwner = { wake() {}, overflowed() {} };

function queue(maxMessages: number, maxBytes: number, overflow: OverflowMode = "drop-oldest") {
  let dropped = 0;
  const sub = new Subscription(
    {
      id: 1,
      realityId: "default",
      pattern: ">",
      queueGroup: "",
      overflow,
      maxMessages,
      maxBytes,
      maxInFlight: 0,
    },
    owner,
    (_reason, n) => dropped += n,
  );
  return { sub, dropped: () => dropped };
}

const pulse = (i: number, payload = 1000) =>
  new StampedPulse({ topic: "t", payload: new Uint8Array(payload), sequence: i });

Deno.test("drop-oldest: a never-taken queue holds no more slots than its message bound", () => {
  const { sub, dropped } = queue(64, 1 << 30);
  for (let i = 0; i < 100_000; i++) sub.offer(pulse(i, 10));
  assert.equal(sub.queued, 64);
  assert.equal(dropped(), 100_000 - 64);
  assert.ok(sub.queueCapacity <= 64, `ring of ${sub.queueCapacity} slots for a bound of 64`);
  // What it keeps is the newest, in order.
  assert.deepEqual(
    sub.take(64).map((p) => p.pulse.sequence),
    [...Array(64).keys()].map((i) => 100_000 - 64 + i),
  );
});

Deno.test("drop-oldest: a never-taken queue holds no more slots than its byte bound needs", () => {
  // 10 pulses of ~1.1 KB fit in 12 KB; the message bound is far away.
  const { sub } = queue(1_000_000, 12 * 1024);
  for (let i = 0; i < 100_000; i++) sub.offer(pulse(i));
  assert.ok(sub.queued <= 12, `${sub.queued} queued`);
  assert.ok(sub.queuedBytes <= 12 * 1024);
  assert.ok(sub.queueCapacity <= 2 * 12, `ring of ${sub.queueCapacity} slots`);
});

Deno.test("drop-oldest: partial takes keep the ring bounded too", () => {
  const { sub } = queue(100, 1 << 30);
  for (let i = 0; i < 100_000; i++) {
    sub.offer(pulse(i, 10));
    if (i % 1000 === 0) sub.take(3);
  }
  assert.ok(sub.queueCapacity <= 128, `ring of ${sub.queueCapacity} slots`);
});

Deno.test("take follows offers in order; bytes are accounted", () => {
  const { sub } = queue(1000, 1 << 30);
  for (let i = 0; i < 10; i++) sub.offer(pulse(i, 10));
  const bytes = sub.queuedBytes;
  assert.deepEqual(sub.take(4).map((p) => p.pulse.sequence), [0, 1, 2, 3]);
  assert.equal(sub.queuedBytes, bytes * 6 / 10);
  assert.deepEqual(sub.take(100).map((p) => p.pulse.sequence), [4, 5, 6, 7, 8, 9]);
  assert.equal(sub.queuedBytes, 0);
  assert.equal(sub.ready, false);
});

Deno.test("replay: replayed pulses go first, then the live queue", () => {
  const { sub } = queue(1000, 1 << 30);
  sub.beginReplay();
  sub.offer(pulse(10, 1));
  sub.feedReplay([pulse(1, 1), pulse(2, 1)]);
  assert.deepEqual(sub.take(1).map((p) => p.pulse.sequence), [1]);
  sub.feedReplay([pulse(3, 1)]);
  assert.deepEqual(sub.take(10).map((p) => p.pulse.sequence), [2, 3]);
  assert.deepEqual(sub.take(10), [], "live waits until the replay ends");
  sub.endReplay();
  assert.equal(sub.replayBacklog, 0);
  assert.deepEqual(sub.take(10).map((p) => p.pulse.sequence), [10]);
});

Deno.test("client-chosen queue bounds are capped at the node's", () => {
  const spine = new Spine({
    metrics: new NodeMetrics(),
    queue: { maxMessages: 100, maxBytes: 4096, overflow: "drop-oldest" },
  });
  const huge = 2 ** 32 - 1;
  const big = spine.subscribe(owner, { id: 1, pattern: "a.>", maxMessages: huge, maxBytes: huge });
  assert.equal(big.spec.maxMessages, 100);
  assert.equal(big.spec.maxBytes, 4096);
  const small = spine.subscribe(owner, { id: 2, pattern: "a.>", maxMessages: 5, maxBytes: 1000 });
  assert.equal(small.spec.maxMessages, 5, "a smaller bound is kept");
  assert.equal(small.spec.maxBytes, 1000);
  const unset = spine.subscribe(owner, { id: 3, pattern: "a.>" });
  assert.equal(unset.spec.maxMessages, 100, "unset takes the node's");
  assert.equal(unset.spec.maxBytes, 4096);
  for (let i = 0; i < 10_000; i++) {
    spine.publish({ topic: "a.b", payload: new Uint8Array(100) }, "p");
  }
  assert.ok(big.queuedBytes <= 4096 && big.queued <= 100);
});
