/**
 * A2A with authentication on: the cards declare the node's bearer scheme, a call needs a
 * token allowed to publish on `agent.<id>.a2a` (401 without one, 403 outside its grants),
 * a task is visible only to the principal that created it, and presence is a reality read.
 */
import assert from "node:assert/strict";
import { startNode } from "../mod.ts";
import { issueToken, writeNodeKeyFile } from "../runtime/shield/auth/mod.ts";
import { a2aErrors } from "./support/a2a_schema.ts";
import { RawAgent, rpc, rpcBody, userMessage } from "./support/a2a_peers.ts";

Deno.test("with auth: A2A calls need publish rights on agent.<id>.a2a and tasks stay with their caller", async () => {
  const dir = await Deno.makeTempDir({ prefix: "arqon-a2a-auth-" });
  const key = await writeNodeKeyFile(`${dir}/node.key`);
  const node = await startNode({
    port: 0,
    log: "quiet",
    memory: true,
    shutdownGraceMs: 500,
    authKey: `${dir}/node.key`,
  });
  const token = (subject: string, publish: string[]) =>
    issueToken(key, {
      subject,
      realities: ["default"],
      publish: { allow: publish },
      subscribe: { allow: [">"] },
    });
  const agent = await RawAgent.start(node.wsUrl, "helper", (req) => [{
    body: {
      messageId: "r",
      role: "ROLE_AGENT",
      parts: [{ text: `done: ${(req.body.parts as { text: string }[])[0].text}` }],
    },
  }], { token: await token("helper", [">"]) });
  try {
    const card = await (await fetch(`${node.url}/.well-known/agent-card.json`)).json();
    assert.deepEqual(a2aErrors("AgentCard", card), []);
    assert.deepEqual(card.securitySchemes.bearer.httpAuthSecurityScheme.scheme, "Bearer");
    assert.deepEqual(card.securityRequirements, [{ schemes: { bearer: { list: [] } } }]);

    const url = `${node.url}/v1/realities/default/agents/helper/a2a`;
    const body = rpcBody("SendMessage", { message: userMessage("job") });
    const anonymous = await rpc(url, body);
    assert.equal(anonymous.status, 401);
    assert.equal((anonymous.json.error as { code: string }).code, "UNAUTHORIZED");

    const nosy = await rpc(url, body, {
      authorization: `Bearer ${await token("nosy", ["other.>"])}`,
    });
    assert.equal(nosy.status, 403);
    assert.equal((nosy.json.error as { code: string }).code, "FORBIDDEN");

    const caller = `Bearer ${await token("caller", ["agent.helper.a2a"])}`;
    const ok = await rpc(url, body, { authorization: caller });
    assert.equal(ok.status, 200);
    const task = (ok.json.result as {
      task: { id: string; status: { message: { parts: { text: string }[] } } };
    }).task;
    assert.equal(task.status.message.parts[0].text, "done: job");

    // Another principal with the same rights does not see the caller's task.
    const other = `Bearer ${await token("other", ["agent.>"])}`;
    const peek = await rpc(url, rpcBody("GetTask", { id: task.id }), { authorization: other });
    assert.equal((peek.json.error as { code: number }).code, -32001);
    const mine = await rpc(url, rpcBody("GetTask", { id: task.id }), { authorization: caller });
    assert.equal((mine.json.result as { id: string }).id, task.id);

    assert.equal((await fetch(`${node.url}/v1/realities/default/presence`)).status, 401);
    const listed = await fetch(`${node.url}/v1/realities/default/presence`, {
      headers: { authorization: caller },
    });
    assert.equal(listed.status, 200);
    assert.ok((await listed.json()).members.some((m: { name: string }) => m.name === "helper"));
  } finally {
    agent.close();
    await node.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});
