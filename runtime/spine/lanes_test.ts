import assert from "node:assert/strict";
import { BusError } from "../protocol/mod.ts";
import { checkLane, LANE_BULK, LANE_CRITICAL, LaneRules } from "./lanes.ts";
import { StampedPulse } from "./stamped.ts";
import { type OverflowMode, Subscription, type SubscriptionOwner } from "./subscription.ts";

const owner: SubscriptionOwner = { wake() {}, overflowed() {} };

function queue(maxMessages: number, overflow: OverflowMode = "drop-oldest", maxInFlight = 0) {
  const drops: string[] = [];
  const sub = new Subscription(
    {
      id: 1,
      realityId: "default",
      pattern: ">",
      queueGroup: "",
      overflow,
      maxMessages,
      maxBytes: 1 << 30,
      maxInFlight,
    },
    owner,
    (reason, n, lane) => drops.push(`${lane}:${reason}:${n}`),
  );
  return { sub, drops };
}

const pulse = (tag: string, lane = 0) =>
  new StampedPulse({ topic: "t", payload: new TextEncoder().encode(tag), lane });
const tags = (ps: StampedPulse[]) => ps.map((p) => new TextDecoder().decode(p.pulse.payload!));

Deno.test("a subscription hands out critical first, then normal, then bulk, each in order", () => {
  const { sub } = queue(100);
  assert.equal(sub.laned, false);
  sub.offer(pulse("b1", LANE_BULK));
  sub.offer(pulse("n1"));
  sub.offer(pulse("c1", LANE_CRITICAL));
  sub.offer(pulse("n2", 1));
  sub.offer(pulse("b2", LANE_BULK));
  sub.offer(pulse("c2", LANE_CRITICAL));
  assert.equal(sub.laned, true);
  assert.equal(sub.queued, 6);
  assert.equal(sub.queuedIn(LANE_CRITICAL), 2);
  assert.deepEqual(tags(sub.take(3)), ["c1", "c2", "n1"]);
  assert.deepEqual(tags(sub.take(10)), ["n2", "b1", "b2"]);
  assert.equal(sub.queued, 0);
  assert.equal(sub.queuedBytes, 0);
});

Deno.test("take's rank bound stops before the lower lanes; readyUpTo says what is there", () => {
  const { sub } = queue(100);
  sub.offer(pulse("b1", LANE_BULK));
  sub.offer(pulse("n1"));
  sub.offer(pulse("c1", LANE_CRITICAL));
  assert.ok(sub.readyUpTo(0));
  assert.deepEqual(tags(sub.take(10, 0)), ["c1"]);
  assert.equal(sub.readyUpTo(0), false);
  assert.ok(sub.readyUpTo(1));
  assert.deepEqual(tags(sub.take(10, 1)), ["n1"]);
  assert.equal(sub.readyUpTo(1), false);
  assert.deepEqual(tags(sub.take(10, 2)), ["b1"]);
  // Without lanes in use, rank 0 takes nothing and rank 1 the normal queue.
  const plain = queue(10).sub;
  plain.offer(pulse("n"));
  assert.deepEqual(plain.take(10, 0), []);
  assert.deepEqual(tags(plain.take(10, 1)), ["n"]);
});

Deno.test("each lane has its own bound and counts its own drops; credits span the lanes", () => {
  const { sub, drops } = queue(2);
  for (let i = 0; i < 5; i++) sub.offer(pulse(`b${i}`, LANE_BULK));
  sub.offer(pulse("c0", LANE_CRITICAL));
  sub.offer(pulse("c1", LANE_CRITICAL));
  sub.offer(pulse("n0"));
  assert.deepEqual(drops, ["3:drop_oldest:1", "3:drop_oldest:1", "3:drop_oldest:1"]);
  assert.equal(sub.unreportedDrops, 3);
  sub.offer(pulse("c2", LANE_CRITICAL));
  assert.deepEqual(drops.at(-1), "2:drop_oldest:1");
  assert.deepEqual(tags(sub.take(100)), ["c1", "c2", "n0", "b3", "b4"]);

  const limited = queue(10, "drop-oldest", 2).sub;
  limited.offer(pulse("b", LANE_BULK));
  limited.offer(pulse("n"));
  limited.offer(pulse("c", LANE_CRITICAL));
  assert.deepEqual(tags(limited.take(10)), ["c", "n"], "two credits");
  assert.equal(limited.ready, false);
  limited.grant(1);
  assert.deepEqual(tags(limited.take(10)), ["b"]);
});

Deno.test("a bulk lane never disconnects; drop-new applies per lane", () => {
  let overflowed = 0;
  const sub = new Subscription(
    {
      id: 1,
      realityId: "default",
      pattern: ">",
      queueGroup: "",
      overflow: "disconnect",
      maxMessages: 1,
      maxBytes: 1 << 30,
      maxInFlight: 0,
    },
    { wake() {}, overflowed: () => overflowed++ },
    () => {},
  );
  sub.offer(pulse("b0", LANE_BULK));
  sub.offer(pulse("b1", LANE_BULK));
  assert.equal(overflowed, 0, "bulk dropped its oldest instead");
  sub.offer(pulse("c0", LANE_CRITICAL));
  sub.offer(pulse("c1", LANE_CRITICAL));
  assert.equal(overflowed, 1, "critical keeps the subscription's policy");
  const { sub: dropNew, drops } = queue(1, "drop-new");
  dropNew.offer(pulse("c0", LANE_CRITICAL));
  dropNew.offer(pulse("c1", LANE_CRITICAL));
  assert.deepEqual(drops, ["2:drop_new:1"]);
  assert.deepEqual(tags(dropNew.take(5)), ["c0"]);
});

Deno.test("lane rules: first match wins, bad rules are typed errors", () => {
  const rules = LaneRules.parse({
    rules: [{ pattern: "alerts.>", lane: "critical" }, { pattern: "*.debug", lane: "bulk" }, {
      pattern: "alerts.debug",
      lane: "bulk",
    }],
  });
  assert.equal(rules.laneFor("alerts.debug"), LANE_CRITICAL);
  assert.equal(rules.laneFor("app.debug"), LANE_BULK);
  assert.equal(rules.laneFor("app.info"), 0);
  assert.equal(rules.laneFor("app.info"), 0, "cached");
  for (
    const bad of [
      null,
      {},
      { rules: [{ pattern: "a", lane: "fast" }] },
      { rules: [{ pattern: "", lane: "bulk" }] },
      { rules: [{ pattern: "a.>.b", lane: "bulk" }] },
      { rules: [{ lane: "bulk" }] },
      { rules: Array(65).fill({ pattern: "a", lane: "bulk" }) },
    ]
  ) {
    assert.throws(() => LaneRules.parse(bad), BusError, JSON.stringify(bad));
  }
  assert.throws(() => checkLane(4), /unknown lane 4/);
  checkLane(0);
  checkLane(3);
});

Deno.test("a resolved lane is appended to the producer's bytes; normal adds nothing", () => {
  const source = new Uint8Array([0x1a, 1, 0x74]); // topic "t"
  const stamp = (lane: number) => {
    const p = new StampedPulse(
      {
        topic: "t",
        id: "x",
        sequence: 1,
        producerId: "p",
        realityId: "r",
        timestamp: { wallMs: 1, logical: 0 },
        lane,
      },
      source,
    );
    const [, tail] = p.parts;
    return [...tail!.slice(-3)];
  };
  assert.deepEqual(stamp(LANE_CRITICAL), [0x98, 0x01, 2]);
  assert.deepEqual(stamp(LANE_BULK), [0x98, 0x01, 3]);
  assert.notDeepEqual(stamp(1), [0x98, 0x01, 1]);
});
