import assert from "node:assert/strict";
import { compilePattern, coversPattern, matchesTopic, overlapsPattern } from "./mod.ts";

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
