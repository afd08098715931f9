/**
 * Hostile and broken A2A calls (issue 16 item 7): unknown agents and methods, malformed
 * JSON-RPC, wrong params, agents answering garbage or not at all, oversized bodies. Each
 * gets the specification's JSON-RPC error object or a typed HTTP 4xx, and the node goes
 * on serving a good call.
 */
import assert from "node:assert/strict";
import type { ArqonNode } from "../../mod.ts";
import {
  type AgentRequest,
  RawAgent,
  rpc,
  rpcBody,
  rpcStream,
  userMessage,
} from "../support/a2a_peers.ts";
import { withNode } from "../support/node.ts";

type RpcError = { code: number; message: string; data: { reason: string }[] };
type Answer = { id: unknown; result?: Record<string, unknown>; error?: RpcError };

const url = (node: ArqonNode, agent: string) =>
  `${node.url}/v1/realities/default/agents/${agent}/a2a`;

function echo(req: AgentRequest) {
  return [{
    body: {
      messageId: "m",
      role: "ROLE_AGENT",
      parts: [{ text: `ok ${(req.body.parts as { text: string }[])[0].text}` }],
    },
  }];
}

async function call(
  node: ArqonNode,
  agent: string,
  body: string,
  headers?: Record<string, string>,
) {
  const { status, json } = await rpc(url(node, agent), body, headers);
  return { status, answer: json as Answer };
}

async function stillServes(node: ArqonNode): Promise<void> {
  const { answer } = await call(
    node,
    "echo",
    rpcBody("SendMessage", { message: userMessage("alive") }),
  );
  const task = answer.result!.task as { status: { message: { parts: { text: string }[] } } };
  assert.equal(task.status.message.parts[0].text, "ok alive");
}

Deno.test("malformed JSON-RPC gets the specification's error codes, with the request id when it could be read", async () => {
  await withNode(async (node) => {
    const agent = await RawAgent.start(node.wsUrl, "echo", echo);
    try {
      const cases: [string, number][] = [
        ["{not json", -32700],
        ["", -32700],
        ["[]", -32600],
        [JSON.stringify([JSON.parse(rpcBody("GetTask", { id: "x" }))]), -32600],
        ['"SendMessage"', -32600],
        [JSON.stringify({ jsonrpc: "1.0", id: 1, method: "GetTask" }), -32600],
        [JSON.stringify({ jsonrpc: "2.0", id: { x: 1 }, method: "GetTask" }), -32600],
        [JSON.stringify({ jsonrpc: "2.0", id: 1 }), -32600],
        [rpcBody("message/send", {}), -32601],
        [rpcBody("ListTasks", {}), -32601],
        [rpcBody("__proto__", {}), -32601],
        [JSON.stringify({ jsonrpc: "2.0", id: 1, method: "GetTask", params: [1] }), -32602],
        [rpcBody("SendMessage", {}), -32602],
        [
          rpcBody("SendMessage", { message: { messageId: "m", role: "ROLE_USER", parts: [] } }),
          -32602,
        ],
        [
          rpcBody("SendMessage", {
            message: { messageId: "m", role: "user", parts: [{ text: "x" }] },
          }),
          -32602,
        ],
        [
          rpcBody("SendMessage", {
            message: { messageId: "m", role: "ROLE_USER", parts: [{ text: "x", url: "y" }] },
          }),
          -32602,
        ],
        [
          rpcBody("SendMessage", {
            message: { messageId: "", role: "ROLE_USER", parts: [{ text: "x" }] },
          }),
          -32602,
        ],
        [
          rpcBody("SendMessage", {
            message: userMessage("x"),
            configuration: { returnImmediately: "yes" },
          }),
          -32602,
        ],
        [rpcBody("GetTask", { id: 5 }), -32602],
        [rpcBody("GetTask", { id: "t", historyLength: -1 }), -32602],
        [rpcBody("GetTask", { id: "no-such-task" }), -32001],
        [rpcBody("CancelTask", { id: "no-such-task" }), -32001],
        [rpcBody("SendMessage", { message: userMessage("x", { taskId: "no-such-task" }) }), -32001],
      ];
      for (const [body, code] of cases) {
        const { status, answer } = await call(node, "echo", body);
        assert.equal(status, 200, body);
        assert.equal(answer.error?.code, code, `${body} -> ${JSON.stringify(answer)}`);
        assert.equal(typeof answer.error?.message, "string");
        assert.equal(answer.error?.data[0].reason.length > 0, true);
      }
      assert.equal(
        (await call(node, "echo", rpcBody("GetTask", { id: "x" }, "req-9"))).answer.id,
        "req-9",
      );
      assert.equal((await call(node, "echo", "{not json")).answer.id, null);
      await stillServes(node);
    } finally {
      agent.close();
    }
  });
});

Deno.test("unknown agents and bad agent ids are typed HTTP errors; a protocol version other than 1.x is refused", async () => {
  await withNode(async (node) => {
    const agent = await RawAgent.start(node.wsUrl, "echo", echo);
    try {
      const body = rpcBody("SendMessage", { message: userMessage("x") });
      const unknown = await rpc(url(node, "nobody"), body);
      assert.equal(unknown.status, 404);
      assert.equal((unknown.json.error as { code: string }).code, "NOT_FOUND");
      const unknownReality = await rpc(`${node.url}/v1/realities/nowhere/agents/echo/a2a`, body);
      assert.equal(unknownReality.status, 404);
      for (const id of ["a*b", "a>b", "%20"]) {
        const bad = await rpc(url(node, id), body);
        assert.equal(bad.status, 400, id);
        assert.equal((bad.json.error as { code: string }).code, "INVALID_ARGUMENT");
      }
      const old = await call(node, "echo", body, { "A2A-Version": "0.3" });
      assert.equal(old.answer.error?.code, -32009);
      const current = await call(node, "echo", body, { "A2A-Version": "1.0" });
      assert.ok(current.answer.result);
      await stillServes(node);
    } finally {
      agent.close();
    }
  });
});

Deno.test("an agent that answers garbage, or does not serve A2A, gets typed errors and a failed task", async () => {
  await withNode(async (node) => {
    const good = await RawAgent.start(node.wsUrl, "echo", echo);
    const garbage = await RawAgent.start(
      node.wsUrl,
      "garbage",
      () => [{ body: "not json at all" }],
    );
    const partless = await RawAgent.start(
      node.wsUrl,
      "partless",
      () => [{ body: { message: { messageId: "m", role: "ROLE_AGENT", parts: [] } } }],
    );
    // Present under its name (so a known agent) but subscribed to nothing.
    const mute = await RawAgent.start(node.wsUrl, "mute", () => [], { subscribe: false });
    try {
      const body = rpcBody("SendMessage", { message: userMessage("x") });
      for (const name of ["garbage", "partless"]) {
        const { answer } = await call(node, name, body);
        assert.equal(answer.error?.code, -32006, name);
        assert.equal(answer.error?.data[0].reason, "INVALID_AGENT_RESPONSE");
      }
      const { answer } = await call(node, "mute", body);
      assert.equal(answer.error?.code, -32004);
      assert.equal(answer.error?.data[0].reason, "NO_RESPONDERS");
      // A stream that cannot start answers with a JSON-RPC error, not an event stream.
      const stream = await rpcStream(
        url(node, "mute"),
        rpcBody("SendStreamingMessage", { message: userMessage("x") }),
      );
      assert.match(stream.contentType, /^application\/json/);
      assert.equal((stream.events[0].error as RpcError).code, -32004);
      // A completed task takes no further message.
      const done = (await call(node, "echo", body)).answer.result!.task as { id: string };
      const more = await call(
        node,
        "echo",
        rpcBody("SendMessage", { message: userMessage("again", { taskId: done.id }) }),
      );
      assert.equal(more.answer.error?.code, -32004);
      await stillServes(node);
    } finally {
      for (const a of [good, garbage, partless, mute]) a.close();
    }
  });
});

Deno.test("an agent that never answers fails the task at the request timeout", async () => {
  await withNode(async (node) => {
    const silent = await RawAgent.start(node.wsUrl, "silent", () => []);
    const good = await RawAgent.start(node.wsUrl, "echo", echo);
    try {
      const t0 = Date.now();
      const { answer } = await call(
        node,
        "silent",
        rpcBody("SendMessage", { message: userMessage("x") }),
      );
      assert.equal(answer.error?.code, -32603);
      assert.equal(answer.error?.data[0].reason, "TIMEOUT");
      assert.ok(Date.now() - t0 >= 250);
      const stream = await rpcStream(
        url(node, "silent"),
        rpcBody("SendStreamingMessage", { message: userMessage("x") }),
      );
      const last = stream.events.at(-1)!.result as {
        statusUpdate: { taskId: string; status: { state: string } };
      };
      assert.equal(last.statusUpdate.status.state, "TASK_STATE_FAILED");
      const got = await call(node, "silent", rpcBody("GetTask", { id: last.statusUpdate.taskId }));
      assert.equal((got.answer.result!.status as { state: string }).state, "TASK_STATE_FAILED");
      await stillServes(node);
    } finally {
      silent.close();
      good.close();
    }
  }, { requestTimeoutMs: 300 });
});

Deno.test("a body over --max-http-body-bytes is refused unread with a typed 413", async () => {
  await withNode(async (node) => {
    const agent = await RawAgent.start(node.wsUrl, "echo", echo);
    try {
      const big = rpcBody("SendMessage", { message: userMessage("x".repeat(8192)) });
      const res = await rpc(url(node, "echo"), big);
      assert.equal(res.status, 413);
      assert.equal((res.json.error as { code: string }).code, "FRAME_TOO_LARGE");
      await stillServes(node);
    } finally {
      agent.close();
    }
  }, { maxHttpBodyBytes: 4096 });
});
