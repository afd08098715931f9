import assert from "node:assert/strict";
import { BatchPipeline, type InFlight } from "./batch_pipeline.ts";
import { StampedPulse } from "../runtime/spine/mod.ts";

const entry = (topics: string[], resets = false): InFlight => ({
  batch: topics.map((topic) => new StampedPulse({ topic })),
  takenAt: 0,
  outcomes: Promise.resolve([]),
  resets,
});

Deno.test("BatchPipeline holds two batches in flight, oldest first", () => {
  const p = new BatchPipeline();
  assert.ok(p.canSend());
  const a = entry(["a1", "a2"]);
  p.push(a);
  assert.ok(p.canSend(), "a second batch overlaps the first");
  p.push(entry(["b1"]));
  assert.ok(!p.canSend(), "never more than two");
  assert.equal(p.head, a);
  assert.equal(p.shift(), a);
  assert.equal(p.length, 1);
  assert.ok(p.canSend());
});

Deno.test("BatchPipeline sends nothing behind a batch that reloads the state", () => {
  const p = new BatchPipeline();
  p.push(entry(["a"], true));
  assert.ok(!p.canSend());
  p.shift();
  assert.ok(p.canSend());
});

Deno.test("BatchPipeline.putBack returns the unpublished pulses in order and drops later batches", () => {
  const p = new BatchPipeline(3);
  p.push(entry(["a1", "a2", "a3"]));
  p.push(entry(["b1", "b2"]));
  p.push(entry(["c1"]));
  assert.deepEqual(p.putBack(1).map((x) => x.pulse.topic), ["a2", "a3", "b1", "b2", "c1"]);
  assert.equal(p.length, 1, "the head stays until shifted");
  p.shift();
  assert.equal(p.length, 0);
  assert.deepEqual(p.putBack(0), [], "nothing in flight: nothing to put back");
  p.push(entry(["a1"]));
  p.push(entry(["b1"]));
  assert.deepEqual(
    p.putBack(1).map((x) => x.pulse.topic),
    ["b1"],
    "past the head's end: later batches only",
  );
});
