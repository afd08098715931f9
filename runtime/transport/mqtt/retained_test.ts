import assert from "node:assert/strict";
import { RetainedStore } from "./retained.ts";

const bytes = (n: number) => new Uint8Array(n).fill(7);

Deno.test("a topic keeps its last retained value; an empty payload clears it", () => {
  const s = new RetainedStore({ maxMessages: 10, maxBytes: 100 });
  assert.ok(s.set("", { topic: "a.b", payload: bytes(3), qos: 1 }));
  assert.ok(s.set("", { topic: "a.b", payload: bytes(5), qos: 0 }));
  assert.ok(s.set("lab", { topic: "a.b", payload: bytes(1), qos: 0 }));
  assert.deepEqual(s.matching("", "a.>").map((m) => [m.topic, m.payload.length, m.qos]), [
    ["a.b", 5, 0],
  ]);
  assert.equal(s.count, 2);
  assert.equal(s.bytes, 6);
  assert.ok(s.set("", { topic: "a.b", payload: bytes(0), qos: 0 }));
  assert.deepEqual(s.matching("", "a.>"), []);
  assert.equal(s.count, 1);
});

Deno.test("past the count or byte bound a new topic is not retained; old ones stay", () => {
  const s = new RetainedStore({ maxMessages: 3, maxBytes: 10 });
  for (let i = 0; i < 3; i++) assert.ok(s.set("", { topic: `t.${i}`, payload: bytes(2), qos: 0 }));
  assert.equal(s.set("", { topic: "t.3", payload: bytes(1), qos: 0 }), false, "count bound");
  assert.ok(s.set("", { topic: "t.0", payload: bytes(4), qos: 0 }), "replacing fits");
  assert.equal(s.set("", { topic: "t.1", payload: bytes(7), qos: 0 }), false, "byte bound");
  assert.deepEqual(s.matching("", "t.*").map((m) => m.payload.length), [4, 2, 2]);
  assert.equal(s.bytes, 8);
});
