import assert from "node:assert/strict";
import { BusError, ErrorCode, type ErrorCodeName, httpStatusOf } from "./mod.ts";

Deno.test("httpStatusOf: every code has a status; the ones clients rely on are fixed", () => {
  for (const code of Object.keys(ErrorCode) as ErrorCodeName[]) {
    const status = httpStatusOf(code);
    assert.ok(status >= 400 && status < 600, `${code} -> ${status}`);
  }
  assert.equal(httpStatusOf("INVALID_ARGUMENT"), 400);
  assert.equal(httpStatusOf("UNAUTHORIZED"), 401);
  assert.equal(httpStatusOf("FORBIDDEN"), 403);
  assert.equal(httpStatusOf("POLICY_DENIED"), 403);
  assert.equal(httpStatusOf("NOT_FOUND"), 404);
  assert.equal(httpStatusOf("FRAME_TOO_LARGE"), 413);
  assert.equal(httpStatusOf("SCHEMA_VIOLATION"), 422);
  assert.equal(httpStatusOf("RATE_LIMITED"), 429);
  assert.equal(httpStatusOf("QUOTA_EXCEEDED"), 429);
  assert.equal(httpStatusOf("SHUTTING_DOWN"), 503);
  assert.equal(httpStatusOf("TIMEOUT"), 504);
  assert.equal(httpStatusOf("STORAGE_FAILED"), 507);
  assert.equal(httpStatusOf("INTERNAL"), 500);
  // Not a code (e.g. from an older peer): a server error, not a client one.
  assert.equal(httpStatusOf("NO_SUCH_CODE"), 500);
  assert.equal(httpStatusOf("toString"), 500);
});

Deno.test("BusError keeps its code and is an Error", () => {
  const e = new BusError("INVALID_TOPIC", "bad");
  assert.ok(e instanceof Error);
  assert.equal(e.code, "INVALID_TOPIC");
  assert.equal(e.name, "BusError");
});
