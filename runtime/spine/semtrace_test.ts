import assert from "node:assert/strict";
import type { IPulse } from "../protocol/mod.ts";
import { appendHop, MAX_SEMTRACE_BYTES, MAX_SEMTRACE_ENTRIES } from "./semtrace.ts";

Deno.test("semtrace: a hop is appended; the producer's chain is kept before it", () => {
  const fresh: IPulse = { topic: "a.b" };
  assert.equal(appendHop(fresh, "a.b"), true);
  assert.deepEqual(fresh.semtrace, ["a.b"]);
  const continued: IPulse = { semtrace: ["x.y", "operator:avg"] };
  assert.equal(appendHop(continued, "a.b"), true);
  assert.deepEqual(continued.semtrace, ["x.y", "operator:avg", "a.b"]);
});

Deno.test("semtrace: past its entry and byte bounds the oldest entries go (re-encode)", () => {
  const long: IPulse = { semtrace: Array.from({ length: 30 }, (_, i) => `t.${i}`) };
  assert.equal(appendHop(long, "last"), false);
  assert.equal(long.semtrace!.length, MAX_SEMTRACE_ENTRIES);
  assert.equal(long.semtrace!.at(-1), "last");
  assert.equal(long.semtrace![0], `t.${31 - MAX_SEMTRACE_ENTRIES}`);
  const wide: IPulse = { semtrace: ["a".repeat(700), "b".repeat(300)] };
  assert.equal(appendHop(wide, "c".repeat(100)), false);
  const bytes = wide.semtrace!.reduce((n, e) => n + e.length, 0);
  assert.ok(bytes <= MAX_SEMTRACE_BYTES);
  assert.deepEqual(wide.semtrace!.map((e) => e[0]), ["b", "c"]);
});
