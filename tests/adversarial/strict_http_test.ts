/**
 * HTTP JSON bodies are read as strictly as JSON frames where readers could disagree: a
 * key repeated in a realities body is a 400 naming it, not the last copy silently.
 * @module
 */
import assert from "node:assert/strict";
import { withNode } from "../support/node.ts";

Deno.test("strict HTTP: a repeated key in a realities body is a 400 naming it", async () => {
  await withNode(async (node) => {
    const res = await fetch(`${node.url}/v1/realities`, {
      method: "POST",
      body: '{"name":"dup","retention":[{"pattern":"a.>"}],"retention":[]}',
    });
    assert.equal(res.status, 400);
    const { error } = await res.json();
    assert.equal(error.code, "INVALID_ARGUMENT");
    assert.match(error.message, /^retention: duplicate key/);
    const again = await fetch(`${node.url}/v1/realities/dup`);
    assert.equal(again.status, 404, "nothing was created");
    await again.body?.cancel();
    const put = await fetch(`${node.url}/v1/realities/dup2`, {
      method: "PUT",
      body: '{"limits":{"maxSubscriptions":1,"maxSubscriptions":100}}',
    });
    assert.equal(put.status, 400);
    assert.match((await put.json()).error.message, /^limits\.maxSubscriptions: duplicate key/);
  });
});
