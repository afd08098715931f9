import assert from "node:assert/strict";
import { compileStorePattern, normalizeRealityConfig } from "./realities.ts";
import { StorageError } from "./errors.ts";

Deno.test("store patterns: malformed patterns are rejected with INVALID_ARGUMENT", () => {
  const invalid = (e: unknown) => e instanceof StorageError && e.code === "INVALID_ARGUMENT";
  for (const bad of ["", "a..b", "a.>.b", "a.b*", "a b", "a.", ".a"]) {
    assert.throws(() => compileStorePattern(bad), invalid, bad);
    assert.throws(() => normalizeRealityConfig({ retention: [{ pattern: bad }] }), invalid, bad);
  }
  assert.equal(compileStorePattern("a.>")("a.b"), true);
});
