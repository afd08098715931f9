import assert from "node:assert/strict";
import {
  compilePattern,
  coversPattern,
  matchesTopic,
  overlapsPattern,
  patternError,
  topicMatches,
} from "./mod.ts";

const m = (pattern: string, topic: string) =>
  matchesTopic(compilePattern(pattern), topic.split("."));

Deno.test("matchesTopic follows NATS semantics for * and >", () => {
  assert.equal(m("orders.created", "orders.created"), true);
  assert.equal(m("orders.created", "orders.deleted"), false);
  assert.equal(m("orders.*", "orders.created"), true);
  assert.equal(m("orders.*", "orders.eu.created"), false);
  assert.equal(m("orders.*", "orders"), false);
  assert.equal(m("orders.>", "orders.eu.created"), true);
  assert.equal(m("orders.>", "orders"), false);
  assert.equal(m(">", "a"), true);
  assert.equal(m("*.eu.*", "orders.eu.created"), true);
  assert.equal(m("*.eu.*", "orders.us.created"), false);
});

Deno.test("compilePattern rejects malformed patterns", () => {
  assert.throws(() => compilePattern("a.>.b"), TypeError);
  assert.throws(() => compilePattern("a..b"), TypeError);
  assert.throws(() => compilePattern("a.b*"), TypeError);
  assert.throws(() => compilePattern(""), TypeError);
});

Deno.test("coversPattern is the subset relation", () => {
  const c = (o: string, i: string) => coversPattern(compilePattern(o), compilePattern(i));
  assert.equal(c("orders.>", "orders.*"), true);
  assert.equal(c("orders.>", "orders.eu.>"), true);
  assert.equal(c("orders.*", "orders.>"), false);
  assert.equal(c("orders.*", "orders.created"), true);
  assert.equal(c("orders.created", "orders.*"), false);
  assert.equal(c(">", "x.y.z"), true);
  assert.equal(c("a.*.c", "a.b.c"), true);
  assert.equal(c("a.b.c", "a.b"), false);
});

Deno.test("overlapsPattern finds a shared topic when there is one", () => {
  const o = (a: string, b: string) => overlapsPattern(compilePattern(a), compilePattern(b));
  assert.equal(o("orders.>", "orders.secret.x"), true);
  assert.equal(o("orders.*", "*.created"), true);
  assert.equal(o("orders.*", "users.*"), false);
  assert.equal(o("a.*", "a.b.c"), false);
  assert.equal(o("a.>", "a"), false);
});

Deno.test("test, matchesTopic and topicMatches agree on literal, * and > patterns", () => {
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
    const compiled = compilePattern(pattern);
    assert.equal(compiled.test(topic), expected, `test: ${pattern} vs ${topic}`);
    assert.equal(matchesTopic(compiled, topic.split(".")), expected, `${pattern} vs ${topic}`);
    assert.equal(topicMatches(pattern, topic), expected, `topicMatches: ${pattern} vs ${topic}`);
  }
});

Deno.test("patternError refuses malformed patterns", () => {
  for (const bad of ["", "a..b", "a.>.b", "a.b*", "a b", "a.", ".a"]) {
    assert.notEqual(patternError(bad), null, bad);
  }
  for (const good of [">", "a.*.c", "a.>", "sensor-1.t_x"]) assert.equal(patternError(good), null);
});

Deno.test("pattern: wildcards never match request inboxes; their own name does", () => {
  const inbox = "_inbox.0123456789abcdef0123456789abcdef";
  for (const p of [">", "*.*", "*.>", "*.0123456789abcdef0123456789abcdef"]) {
    assert.equal(compilePattern(p).test(inbox), false, p);
    assert.equal(topicMatches(p, inbox), false, p);
  }
  assert.equal(compilePattern(inbox).test(inbox), true);
  assert.equal(compilePattern(">").test("_inboxes.x"), true);
});
