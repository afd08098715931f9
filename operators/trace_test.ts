import assert from "node:assert/strict";
import { childTraceparent, hopsOf } from "./trace.ts";

Deno.test("outputs keep the input's trace id with a new span id", () => {
  const input = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  const out = childTraceparent(input);
  assert.match(out, /^00-4bf92f3577b34da6a3ce929d0e0e4736-[0-9a-f]{16}-01$/);
  assert.notEqual(out.split("-")[2], "00f067aa0ba902b7");
  assert.match(childTraceparent(undefined), /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
  assert.equal(hopsOf({ "arqon-hops": "3" }), 3);
  assert.equal(hopsOf({ "arqon-hops": "x" }), 0);
  assert.equal(hopsOf(undefined), 0);
});

Deno.test("span ids from the pooled buffer are well formed and unique across pool refills", () => {
  const input = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  const spans = new Set<string>();
  // 512 span ids use one 4 KiB pool: 5,000 cross several refills.
  for (let i = 0; i < 5_000; i++) {
    const out = childTraceparent(input);
    assert.match(out, /^00-4bf92f3577b34da6a3ce929d0e0e4736-[0-9a-f]{16}-01$/);
    spans.add(out.slice(36, 52));
  }
  assert.equal(spans.size, 5_000);
  const traces = new Set<string>();
  for (let i = 0; i < 1_000; i++) {
    const out = childTraceparent("garbage");
    assert.match(out, /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    traces.add(out.slice(3, 35));
  }
  assert.equal(traces.size, 1_000);
  // Every hex digit shows up: the table covers all byte values, not a prefix.
  const digits = new Set([...spans].join(""));
  assert.equal(digits.size, 16);
});
