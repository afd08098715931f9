import assert from "node:assert/strict";
import { StateChanges } from "./state_changes.ts";

const b = (s: string) => new TextEncoder().encode(s);

Deno.test("merged state writes keep the last write of each key, deletes included", () => {
  const c = new StateChanges();
  assert.equal(c.empty, true);
  c.add([["a", b("1")], ["b", b("x")]]);
  c.add([["a", b("2")], ["b", null]]);
  c.add([]);
  c.add([["c", b("y")], ["b", b("z")], ["c", null]]);
  assert.equal(c.empty, false);
  const got = new Map(c.list());
  assert.deepEqual([...got.keys()].sort(), ["a", "b", "c"]);
  assert.deepEqual(got.get("a"), b("2"));
  assert.deepEqual(got.get("b"), b("z"));
  assert.equal(got.get("c"), null);
});
