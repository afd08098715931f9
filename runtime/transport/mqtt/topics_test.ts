import assert from "node:assert/strict";
import { filterFromMqtt, realityFromUsername, topicFromMqtt, topicToMqtt } from "./topics.ts";

Deno.test("topics map a/b/c <-> a.b.c; names that cannot round-trip are refused", () => {
  assert.deepEqual(topicFromMqtt("sensors/kitchen/temp"), {
    ok: true,
    value: "sensors.kitchen.temp",
  });
  assert.equal(topicToMqtt("sensors.kitchen.temp"), "sensors/kitchen/temp");
  for (const bad of ["", "a//b", "/a", "a/", "a.b/c", "A/b", "a/+", "a/#", "$SYS/x", "a/b c"]) {
    assert.equal(topicFromMqtt(bad).ok, false, bad);
  }
  assert.equal(topicFromMqtt(Array(17).fill("a").join("/")).ok, false, "17 levels");
});

Deno.test("filters map +/# to */>, $share/g/ to a queue group; bad ones are refused", () => {
  const ok = (f: string) => {
    const m = filterFromMqtt(f);
    assert.ok(m.ok, f);
    return m.value;
  };
  assert.deepEqual(ok("a/+/c"), { pattern: "a.*.c", queueGroup: "" });
  assert.deepEqual(ok("a/#"), { pattern: "a.>", queueGroup: "" });
  assert.deepEqual(ok("+"), { pattern: "*", queueGroup: "" });
  assert.deepEqual(ok("$share/workers/jobs/+"), { pattern: "jobs.*", queueGroup: "workers" });
  for (const bad of ["a/#/b", "a/b+", "a/#x", "", "a//b", "$share//a", "$share/g", "A/b"]) {
    assert.equal(filterFromMqtt(bad).ok, false, bad);
  }
});

Deno.test("the user name names the reality", () => {
  assert.deepEqual(realityFromUsername(undefined), { ok: true, value: "" });
  assert.deepEqual(realityFromUsername("default"), { ok: true, value: "" });
  assert.deepEqual(realityFromUsername("lab"), { ok: true, value: "lab" });
  assert.equal(realityFromUsername("Lab!").ok, false);
});
