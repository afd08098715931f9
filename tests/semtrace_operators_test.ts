/**
 * Semantic trace through operators (issue 16 item 6): a pulse passing two operator hops
 * arrives with the chain of topics and operators it took, read by a raw JSON WebSocket
 * client, and the same chain is in history.
 */
import assert from "node:assert/strict";
import { withNode } from "./support/node.ts";
import { call, client, delivered, publish } from "./support/operators.ts";

Deno.test("semtrace: two operator hops record topics and operator names in order", async () => {
  await withNode(async (node) => {
    await fetch(`${node.url}/v1/realities`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "default", retention: [{ pattern: "out.>" }] }),
    }).then((r) => r.body?.cancel());
    for (const [name, from, to] of [["first", "in.>", "mid.all"], ["second", "mid.>", "out.all"]]) {
      const up = await call(node.url, "PUT", `/v1/operators/${name}`, {
        builtin: "echo",
        inputs: [from],
        config: { to },
      });
      assert.equal(up.status, 201, JSON.stringify(up.body));
    }
    const s = await client(node.wsUrl, ">");
    publish(s, "in.a", "x");
    await s.until(() => delivered(s, "out.all").length === 1, "the second hop's output");
    const path = ["in.a", "operator:first", "mid.all", "operator:second", "out.all"];
    assert.deepEqual(delivered(s, "in.a")[0].semtrace, path.slice(0, 1));
    assert.deepEqual(delivered(s, "mid.all")[0].semtrace, path.slice(0, 3));
    assert.deepEqual(delivered(s, "out.all")[0].semtrace, path);
    const history = await call(node.url, "GET", "/v1/realities/default/history?pattern=out.>");
    assert.equal(history.status, 200, JSON.stringify(history.body));
    assert.ok(JSON.stringify(history.body).includes(JSON.stringify(path)));
    s.ws.close();
  });
});
