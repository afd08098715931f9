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
