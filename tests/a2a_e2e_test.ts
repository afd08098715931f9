/**
 * A2A 1.0 end to end (issue 16 items 1, 2 and 7): a real node on an ephemeral port, agents
 * on the bus as raw protobuf WebSocket clients (no SDK, no HTTP server of their own), and
 * an A2A client written from the specification (JSON-RPC 2.0 over fetch, SSE parsed from
 * the bytes). Every card, task and stream event is validated against the JSON Schema
 * derived from the specification's proto (tests/testdata/a2a, tag v1.0.1).
 */
import assert from "node:assert/strict";
import type { ArqonNode } from "../mod.ts";
import { a2aErrors } from "./support/a2a_schema.ts";
import {
  type AgentRequest,
  RawAgent,
  rpc,
  rpcBody,
  rpcStream,
  userMessage,
} from "./support/a2a_peers.ts";
import { metric, withNode } from "./support/node.ts";

const ECHO_CARD = { capabilities: ["echo", "shout"] };

/** Echo logic: the text of the first part, upper-cased, as an agent message. */
function shout(req: AgentRequest) {
  const parts = req.body.parts as { text: string }[];
  return [{
    body: {
      messageId: crypto.randomUUID(),
      role: "ROLE_AGENT",
      parts: [{ text: parts[0].text.toUpperCase() }],
    },
  }];
}

function endpoint(node: ArqonNode, agent: string, reality = "default"): string {
  return `${node.url}/v1/realities/${reality}/agents/${agent}/a2a`;
}

/** A JSON value read loosely: each is validated against the A2A schema first. */
// deno-lint-ignore no-explicit-any
type J = any;

type Rpc = {
  result?: Record<string, unknown>;
  error?: { code: number; message: string; data: unknown[] };
};

function conforms(type: string, value: unknown): void {
  assert.deepEqual(a2aErrors(type, value), [], `${type}: ${JSON.stringify(value).slice(0, 400)}`);
}

Deno.test("the schema derived from the A2A proto takes the specification's sample card and refuses broken ones", async () => {
  const sample = JSON.parse(
    await Deno.readTextFile(new URL("./testdata/a2a/sample_agent_card.json", import.meta.url)),
  );
  // The sample's `security` predates the proto's `securityRequirements` (see the README).
  assert.match(a2aErrors("AgentCard", sample).join(), /additional properties.*security/);
  delete sample.security;
  conforms("AgentCard", sample);
  const { skills: _, ...noSkills } = sample;
  assert.match(a2aErrors("AgentCard", noSkills).join(), /required property 'skills'/);
  assert.notDeepEqual(a2aErrors("Task", { id: "t", status: { state: "DONE" } }), []);
});

Deno.test("discovery: the node's card and each agent's card follow A2A 1.0 and list the hosted agents", async () => {
  await withNode(async (node) => {
    const echo = await RawAgent.start(node.wsUrl, "echo", shout, { card: ECHO_CARD });
    const plain = await RawAgent.start(node.wsUrl, "plain", () => []);
    try {
      const res = await fetch(`${node.url}/.well-known/agent-card.json`);
      assert.equal(res.status, 200);
      const card = await res.json();
      conforms("AgentCard", card);
      assert.equal(card.version, JSON.parse(await Deno.readTextFile("deno.json")).version);
      assert.equal(card.capabilities.streaming, true);
      assert.deepEqual(card.supportedInterfaces, [
        { url: `${node.url}/v1/a2a`, protocolBinding: "JSONRPC", protocolVersion: "1.0" },
      ]);
      assert.equal(card.securitySchemes, undefined, "an open node declares no scheme");
      const skill = card.skills.find((s: { id: string }) => s.id === "default/echo");
      assert.deepEqual(skill.tags, ["echo", "shout"]);

      const own = await (await fetch(`${node.url}/v1/realities/default/agents/echo/card`)).json();
      conforms("AgentCard", own);
      assert.equal(own.name, "echo");
      assert.equal(own.supportedInterfaces[0].url, endpoint(node, "echo"));
      assert.deepEqual(own.skills.map((s: { id: string }) => s.id), ["echo", "shout"]);
      // A named client without a card is an agent too.
      const bare = await (await fetch(`${node.url}/v1/realities/default/agents/plain/card`)).json();
      conforms("AgentCard", bare);
      const missing = await fetch(`${node.url}/v1/realities/default/agents/nobody/card`);
      assert.equal(missing.status, 404);
      assert.equal((await missing.json()).error.code, "NOT_FOUND");
    } finally {
      echo.close();
      plain.close();
    }
  });
});

Deno.test("the node's card lists at most --a2a-card-max-skills agents", async () => {
  await withNode(async (node) => {
    const agents = await Promise.all(
      ["a1", "a2", "a3"].map((n) =>
        RawAgent.start(node.wsUrl, n, () => [], { card: { capabilities: [n] } })
      ),
    );
    try {
      const card = await (await fetch(`${node.url}/.well-known/agent-card.json`)).json();
      conforms("AgentCard", card);
      assert.equal(card.skills.length, 2);
      assert.match(card.description, /1 more agents/);
    } finally {
      for (const a of agents) a.close();
    }
  }, { a2aCardMaxSkills: 2 });
});

Deno.test("SendMessage travels as a bus request on agent.<id>.a2a; GetTask and CancelTask read and guard the task", async () => {
  await withNode(async (node) => {
    const echo = await RawAgent.start(node.wsUrl, "echo", shout, { card: ECHO_CARD });
    try {
      const sent = userMessage("hello bus");
      const { status, json } = await rpc(
        endpoint(node, "echo"),
        rpcBody("SendMessage", { message: sent }, "a"),
      );
      assert.equal(status, 200);
      const answer = json as Rpc;
      assert.equal(json.id, "a");
      conforms("SendMessageResponse", answer.result);
      const task = answer.result!.task as J;
      assert.equal(task.status.state, "TASK_STATE_COMPLETED");
      assert.equal(task.status.message.parts[0].text, "HELLO BUS");
      assert.equal(task.status.message.taskId, task.id);
      assert.equal(task.history.length, 2);

      // What the agent got: the A2A message as JSON, with the task's ids, on its topic.
      const [req] = echo.requests;
      assert.equal(req.topic, "agent.echo.a2a");
      assert.equal(req.headers["a2a-method"], "SendMessage");
      assert.equal(req.headers["a2a-task-id"], task.id);
      assert.equal(req.body.messageId, sent.messageId);
      assert.equal(req.body.taskId, task.id);
      assert.match(req.replyTo, /^_inbox\./);

      const got =
        (await rpc(endpoint(node, "echo"), rpcBody("GetTask", { id: task.id, historyLength: 1 })))
          .json as Rpc;
      conforms("Task", got.result);
      assert.equal((got.result!.history as unknown[]).length, 1);
      assert.equal((got.result!.status as { state: string }).state, "TASK_STATE_COMPLETED");

      const cancel = (await rpc(endpoint(node, "echo"), rpcBody("CancelTask", { id: task.id })))
        .json as Rpc;
      assert.equal(cancel.error!.code, -32002);
      // The task is found only through its own agent's endpoint.
      const other = await RawAgent.start(node.wsUrl, "other", shout);
      const elsewhere = (await rpc(endpoint(node, "other"), rpcBody("GetTask", { id: task.id })))
        .json as Rpc;
      assert.equal(elsewhere.error!.code, -32001);
      other.close();

      // The node's endpoint reaches the same agent through params.tenant.
      const viaNode = (await rpc(
        `${node.url}/v1/a2a`,
        rpcBody("SendMessage", { tenant: "default/echo", message: userMessage("via node") }),
      )).json as Rpc;
      assert.equal((viaNode.result!.task as J).status.message.parts[0].text, "VIA NODE");
      const noTenant =
        (await rpc(`${node.url}/v1/a2a`, rpcBody("SendMessage", { message: userMessage("x") })))
          .json as Rpc;
      assert.equal(noTenant.error!.code, -32602);
    } finally {
      echo.close();
    }
  });
});

Deno.test("SendStreamingMessage: the agent's replies become SSE events, in order, ending at the final one", async () => {
  await withNode(async (node) => {
    const agent = await RawAgent.start(node.wsUrl, "writer", (req) => {
      const ids = { taskId: req.body.taskId };
      return [
        ...[0, 1, 2].map((i) => ({
          body: {
            artifactUpdate: {
              ...ids,
              artifact: { artifactId: "doc", parts: [{ text: `chunk ${i}` }] },
              append: i > 0,
              lastChunk: i === 2,
            },
          },
        })),
        { body: { statusUpdate: { ...ids, status: { state: "TASK_STATE_COMPLETED" } } } },
      ];
    });
    try {
      const { status, contentType, events } = await rpcStream(
        endpoint(node, "writer"),
        rpcBody("SendStreamingMessage", { message: userMessage("write") }, 7),
      );
      assert.equal(status, 200);
      assert.match(contentType, /^text\/event-stream/);
      assert.equal(events.length, 5);
      for (const e of events) {
        assert.equal(e.jsonrpc, "2.0");
        assert.equal(e.id, 7);
        conforms("StreamResponse", e.result);
      }
      const results = events.map((e) => e.result as J);
      assert.ok(results[0].task, "a task comes first");
      const taskId = results[0].task.id;
      assert.deepEqual(
        results.slice(1, 4).map((r) => r.artifactUpdate.artifact.parts.at(-1).text),
        [
          "chunk 0",
          "chunk 1",
          "chunk 2",
        ],
      );
      assert.equal(results[4].statusUpdate.status.state, "TASK_STATE_COMPLETED");
      const task =
        ((await rpc(endpoint(node, "writer"), rpcBody("GetTask", { id: taskId }))).json as Rpc)
          .result!;
      conforms("Task", task);
      assert.deepEqual((task.artifacts as J[])[0].parts.map((p: { text: string }) => p.text), [
        "chunk 0",
        "chunk 1",
        "chunk 2",
      ]);

      // An agent may end a stream with any event by the header a2a-final.
      agent.logic = (req) => [{
        body: {
          statusUpdate: { taskId: req.body.taskId, status: { state: "TASK_STATE_WORKING" } },
        },
        headers: { "a2a-final": "true" },
      }];
      const ended = await rpcStream(
        endpoint(node, "writer"),
        rpcBody("SendStreamingMessage", { message: userMessage("x") }),
      );
      assert.equal(ended.events.length, 2);
    } finally {
      agent.close();
    }
  });
});

Deno.test("a task keeps at most 64 artifacts and history entries however many the agent streams", async () => {
  await withNode(async (node) => {
    const agent = await RawAgent.start(node.wsUrl, "chatty", (req) => [
      ...Array.from({ length: 70 }, (_, i) => ({
        body: {
          artifactUpdate: { artifact: { artifactId: `a${i}`, parts: [{ text: String(i) }] } },
        },
      })),
      {
        body: {
          statusUpdate: { taskId: req.body.taskId, status: { state: "TASK_STATE_COMPLETED" } },
        },
      },
    ]);
    try {
      const { events } = await rpcStream(
        endpoint(node, "chatty"),
        rpcBody("SendStreamingMessage", { message: userMessage("go") }),
      );
      assert.equal(events.length, 72);
      const id = (events[0].result as J).task.id;
      const task = ((await rpc(endpoint(node, "chatty"), rpcBody("GetTask", { id }))).json as Rpc)
        .result as J;
      assert.equal(task.artifacts.length, 64);
      assert.equal(task.artifacts[0].artifactId, "a6", "the oldest are dropped");
    } finally {
      agent.close();
    }
  });
});

Deno.test("returnImmediately leaves the task running; CancelTask ends it and tells the agent", async () => {
  await withNode(async (node) => {
    const agent = await RawAgent.start(node.wsUrl, "slow", () => []);
    try {
      const started = (await rpc(
        endpoint(node, "slow"),
        rpcBody("SendMessage", {
          message: userMessage("take your time"),
          configuration: { returnImmediately: true },
        }),
      )).json as Rpc;
      const task = started.result!.task as J;
      assert.equal(task.status.state, "TASK_STATE_WORKING");
      const canceled = (await rpc(endpoint(node, "slow"), rpcBody("CancelTask", { id: task.id })))
        .json as Rpc;
      conforms("Task", canceled.result);
      assert.equal((canceled.result as J).status.state, "TASK_STATE_CANCELED");
      const deadline = Date.now() + 5000;
      while (
        !agent.requests.some((r) => r.headers["a2a-method"] === "CancelTask") &&
        Date.now() < deadline
      ) {
        await new Promise((r) => setTimeout(r, 20));
      }
      const notice = agent.requests.find((r) => r.headers["a2a-method"] === "CancelTask")!;
      assert.equal(notice.body.id, task.id);
      const again = (await rpc(endpoint(node, "slow"), rpcBody("CancelTask", { id: task.id })))
        .json as Rpc;
      assert.equal(again.error!.code, -32002);
    } finally {
      agent.close();
    }
  });
});

Deno.test("the task table is bounded: with every task running a new call is refused, typed, and the node serves on", async () => {
  await withNode(async (node) => {
    const slow = await RawAgent.start(node.wsUrl, "slow", () => []);
    const echo = await RawAgent.start(node.wsUrl, "echo", shout);
    try {
      const start = async () =>
        (await rpc(
          endpoint(node, "slow"),
          rpcBody("SendMessage", {
            message: userMessage("x"),
            configuration: { returnImmediately: true },
          }),
        ))
          .json as Rpc;
      const first = (await start()).result!.task as J;
      await start();
      const refused = await start();
      assert.equal(refused.error!.code, -32603);
      assert.match(refused.error!.message, /task table is full.*--a2a-max-tasks/);
      assert.equal((refused.error!.data[0] as J).reason, "QUOTA_EXCEEDED");
      assert.equal(await metric(node, "arqon_limit_hits_total", 'limit="a2a_max_tasks"'), 1);
      // A finished task makes room: the oldest finished one is forgotten.
      await rpc(endpoint(node, "slow"), rpcBody("CancelTask", { id: first.id }));
      const served = (await rpc(
        endpoint(node, "echo"),
        rpcBody("SendMessage", { message: userMessage("still here") }),
      )).json as Rpc;
      assert.equal((served.result!.task as J).status.message.parts[0].text, "STILL HERE");
      const gone = (await rpc(endpoint(node, "slow"), rpcBody("GetTask", { id: first.id })))
        .json as Rpc;
      assert.equal(gone.error!.code, -32001);
    } finally {
      slow.close();
      echo.close();
    }
  }, { a2aMaxTasks: 2 });
});
