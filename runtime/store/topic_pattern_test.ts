import assert from "node:assert/strict";
import { compileTopicPattern, validateTopicPattern } from "./topic_pattern.ts";
import { StorageError } from "./errors.ts";

Deno.test("topic pattern: literal, * and > follow NATS semantics", () => {
  const cases: [string, string, boolean][] = [
    ["a.b.c", "a.b.c", true],
    ["a.b.c", "a.b", false],
    ["a.*.c", "a.x.c", true],
    ["a.*.c", "a.x.y.c", false],
    ["a.*", "a", false],
    ["a.>", "a.b", true],
    ["a.>", "a.b.c.d", true],
    ["a.>", "a", false],
    [">", "anything.at.all", true],
    ["*.b.>", "x.b.y", true],
    ["*.b.>", "x.c.y", false],
    ["sensor-1.t_x", "sensor-1.t_x", true],
  ];
  for (const [pattern, topic, expected] of cases) {
    assert.equal(compileTopicPattern(pattern)(topic), expected, `${pattern} vs ${topic}`);
  }
});

Deno.test("topic pattern: malformed patterns are rejected with INVALID_ARGUMENT", () => {
  for (const bad of ["", "a..b", "a.>.b", "a.b*", "a b", "a.", ".a"]) {
    assert.throws(
      () => validateTopicPattern(bad),
      (e: unknown) => e instanceof StorageError && e.code === "INVALID_ARGUMENT",
      bad,
    );
  }
});
