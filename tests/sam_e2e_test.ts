/**
 * The SAM handshake end to end (issue 12 item 6): a real node on an ephemeral port; clients
 * present cards in raw protobuf hellos (tests/support/pb.ts), publishes are checked against
 * their output schema over WebSocket and HTTP, operators built from AssemblyScript in the
 * test have their inputs and outputs checked, and `GET /v1/realities/{r}/agents` lists both.
 */
import assert from "node:assert/strict";
import type { ArqonNode } from "../mod.ts";
import { ArqonClient } from "../runtime/client/mod.ts";
import { testOperatorComponent } from "../operators/build/mod.ts";
import { F, msg, num, pb, type PbField, str } from "./support/pb.ts";
import { RawSocket } from "./support/raw_ws.ts";
import { metric, sleep, withNode } from "./support/node.ts";

const PROTO = "arqon.v1.proto";
const SCHEMA_VIOLATION = 24;
const INVALID_ARGUMENT = 19;
const counter = await testOperatorComponent("counter");

const SENSOR_CARD = {
  capabilities: ["temperature"],
  output_schema: {
    type: "object",
    properties: { celsius: { type: "number", minimum: -273.15 } },
    required: ["celsius"],
  },
  realities: ["default", "lab"],
};

/** A raw protobuf client that sent a hello; resolves once welcomed or refused. */
async function hello(node: ArqonNode, name: string, card?: unknown): Promise<RawSocket> {
  const s = await RawSocket.open(node.wsUrl, PROTO);
  const fields: PbField[] = [[1, name], [2, 1]];
  if (card !== undefined) fields.push([33, typeof card === "string" ? card : JSON.stringify(card)]);
  s.send(pb([[F.hello, fields]]));
  await s.until(() => s.of(F.welcome).length + s.of(F.error).length > 0, "welcome or error");
  return s;
}

/** Publishes with ACK_MODE_RECEIVED under `correlation`. */
function publish(s: RawSocket, correlation: number, topic: string, payload: string) {
  s.send(pb([[F.publish, [[1, correlation], [2, 1], [3, [[3, topic], [11, payload]]]]]]));
}

/** Waits for the ack or the error of `correlation`; returns the error frame, if any. */
async function outcome(s: RawSocket, correlation: number) {
  await s.until(() => has(s, correlation), `answer to ${correlation}`);
  const error = s.of(F.error).find((m) => num(m, 3) === correlation);
  return error ? { code: num(error, 1), message: str(error, 2) } : undefined;
}
function has(s: RawSocket, correlation: number): boolean {
  return s.of(F.ack).some((m) => num(m, 1) === correlation) ||
    s.of(F.error).some((m) => num(m, 3) === correlation);
}

type Agent = {
  name: string;
  kind: string;
  status: string;
  capabilities: string[];
  last_activity_ms: number;
  sessions?: number;
  violations: { output: number; input: number };
  card: Record<string, unknown>;
};
async function agents(node: ArqonNode, reality = "default"): Promise<Agent[]> {
  const res = await fetch(`${node.url}/v1/realities/${reality}/agents`);
  assert.equal(res.status, 200);
  const body = await res.json();
  assert.equal(body.reality, reality);
  return body.agents;
}

Deno.test("a client's card: valid publishes pass, invalid ones get SCHEMA_VIOLATION with path and keyword", async () => {
  await withNode(async (node) => {
    const sub = await hello(node, "watcher");
    sub.send(pb([[F.subscribe, [[1, 7], [3, "temp.>"], [12, 1]]]]));
    await sub.wait(F.subscribed);
    const s = await hello(node, "sensor", SENSOR_CARD);
    assert.equal(s.of(F.welcome).length, 1);
    publish(s, 1, "temp.room", '{"celsius": 21.5}');
    publish(s, 2, "temp.room", '{"celsius": "hot"}');
    publish(s, 3, "temp.room", '{"celsius": -300}');
    publish(s, 4, "temp.room", "not json");
    publish(s, 5, "temp.room", '{"celsius": 22}');
    assert.equal(await outcome(s, 1), undefined);
    const typed = await outcome(s, 2);
    assert.equal(typed?.code, SCHEMA_VIOLATION);
    assert.match(typed!.message, /at "\/celsius" \(keyword "type"\): must be number/);
    const min = await outcome(s, 3);
    assert.equal(min?.code, SCHEMA_VIOLATION);
    assert.match(min!.message, /at "\/celsius" \(keyword "minimum"\)/);
    const text = await outcome(s, 4);
    assert.equal(text?.code, SCHEMA_VIOLATION);
    assert.match(text!.message, /not UTF-8 JSON/);
    assert.equal(await outcome(s, 5), undefined);
    // The reality is checked first: a metric label is never a client's unchecked text.
    s.send(
      pb([[F.publish, [[1, 8], [2, 1], [3, [[3, "temp.x"], [5, "Not A Reality"], [11, "x"]]]]]]),
    );
    assert.equal((await outcome(s, 8))?.code, INVALID_ARGUMENT);
    // A request is a publish of the producer too.
    s.send(pb([[F.request, [[1, 9], [2, [[3, "temp.ask"], [11, "[]"]]], [3, 500]]]]));
    const asked = await outcome(s, 9);
    assert.equal(asked?.code, SCHEMA_VIOLATION);
    assert.match(asked!.message, /keyword "type"/);
    // Only the two valid pulses were sequenced and delivered, in order.
    await sub.until(() => sub.of(F.deliver).length >= 2, "2 deliveries");
    await sleep(50);
    const got = sub.of(F.deliver).map((d) => str(msg(d, 2), 11));
    assert.deepEqual(got, ['{"celsius": 21.5}', '{"celsius": 22}']);

    // HTTP publishes under the producer id are checked against the same card.
    const post = (body: string, producer?: string) =>
      fetch(`${node.url}/v1/realities/default/topics/temp.room`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          ...(producer ? { "x-arqon-producer": producer } : {}),
        },
        body,
      });
    const refused = await post('{"celsius": []}', "sensor");
    assert.equal(refused.status, 422);
    const err = (await refused.json()).error;
    assert.equal(err.code, "SCHEMA_VIOLATION");
    assert.match(err.message, /at "\/celsius" \(keyword "type"\)/);
    const ok = await post('{"celsius": 19}', "sensor");
    assert.equal(ok.status, 200, await ok.clone().text());
    assert.ok((await ok.json()).sequence > 0);
    // A producer without a card is not checked.
    assert.equal((await post("anything", "other")).status, 200);

    const [agent] = await agents(node);
    assert.equal(agent.name, "sensor");
    assert.equal(agent.kind, "client");
    assert.equal(agent.status, "connected");
    assert.deepEqual(agent.capabilities, ["temperature"]);
    assert.deepEqual(agent.card.output_schema, SENSOR_CARD.output_schema);
    assert.equal(agent.violations.output, 5);
    assert.equal((await agents(node, "lab")).length, 1);
    assert.equal((await agents(node, "elsewhere")).length, 0);
    assert.equal(
      await metric(node, "arqon_schema_violations_total", 'direction="output"'),
      5,
    );
    // Last activity moves with each publish.
    const before = agent.last_activity_ms;
    assert.ok(before > 0);
    await sleep(20);
    publish(s, 6, "temp.room", '{"celsius": 1}');
    assert.equal(await outcome(s, 6), undefined);
    const [after] = await agents(node);
    assert.ok(after.last_activity_ms > before, `${after.last_activity_ms} > ${before}`);
    // Closing the session removes it from the directory.
    await s.close();
    const deadline = Date.now() + 5000;
    while ((await agents(node)).length > 0 && Date.now() < deadline) await sleep(20);
    assert.equal((await agents(node)).length, 0);
    await sub.close();
  });
});

Deno.test("invalid cards refuse the hello with a typed error; the node keeps serving", async () => {
  await withNode(async (node) => {
    const refusal = async (card: unknown, pattern: RegExp, name = "bad") => {
      const s = await hello(node, name, card);
      assert.equal(s.of(F.welcome).length, 0, `welcomed with ${String(card).slice(0, 60)}`);
      const [e] = s.of(F.error);
      assert.equal(num(e, 1), INVALID_ARGUMENT);
      assert.match(str(e, 2), pattern);
      await s.close();
    };
    await refusal("{not json", /card: not valid JSON/);
    await refusal({ capabilities: "x" }, /card: capabilities must be an array of strings/);
    await refusal({ capabilities: [], mood: 1 }, /card: unknown field "mood"/);
    await refusal(
      { capabilities: [], output_schema: { type: "objekt" } },
      /card: output_schema: schema is invalid/,
    );
    await refusal(
      { capabilities: [], input_schema: { minimum: "3" } },
      /card: input_schema: schema is invalid/,
    );
    await refusal({ capabilities: [], realities: ["No Such"] }, /card: realities/);
    await refusal({ capabilities: [] }, /belong to operators/, "operator:sum");
    // Driven past the schema bound: 300 properties, a small card.
    const properties = Object.fromEntries(
      Array.from({ length: 300 }, (_, i) => [`p${i}`, { type: "integer" }]),
    );
    await refusal(
      { capabilities: [], output_schema: { type: "object", properties } },
      /more than 256 objects and arrays/,
    );
    // Driven past the 64 KiB bound (the frame itself is well within the frame limit).
    await refusal(
      { capabilities: ["x".repeat(64 * 1024)] },
      /card: \d+ bytes exceed the limit of 65536/,
    );
    // One producer id, one card: a second session with another card is refused.
    const first = await hello(node, "twin", SENSOR_CARD);
    assert.equal(first.of(F.welcome).length, 1);
    await refusal({ capabilities: ["other"] }, /connected with another card/, "twin");
    const same = await hello(node, "twin", SENSOR_CARD);
    assert.equal(same.of(F.welcome).length, 1);
    assert.equal((await agents(node))[0].sessions, 2);
    // A session presents one card: another hello with another card is refused uncompiled.
    same.send(pb([[F.hello, [[1, "twin"], [2, 1], [33, '{"capabilities":["changed"]}']]]]));
    await same.until(() => same.of(F.error).length > 0, "refusal of a second card");
    assert.equal(num(same.of(F.error)[0], 1), INVALID_ARGUMENT);
    assert.match(str(same.of(F.error)[0], 2), /a session presents one card/);
    assert.deepEqual((await agents(node))[0].capabilities, ["temperature"]);
    // The node keeps serving: a valid client publishes after all the refusals.
    publish(same, 1, "temp.x", '{"celsius": 3}');
    assert.equal(await outcome(same, 1), undefined);
    await first.close();
    await same.close();

    // Our SDK: the card is a connect option; a bad one rejects the connection.
    await assert.rejects(
      ArqonClient.connect(node.wsUrl, { name: "sdk", card: { capabilities: [1 as never] } }),
      (e: Error & { code?: string }) =>
        e.code === "INVALID_ARGUMENT" && /capabilities\[0\]/.test(e.message),
    );
    const client = await ArqonClient.connect(node.wsUrl, {
      name: "sdk",
      reconnect: false,
      card: { capabilities: ["count"], output_schema: { type: "integer" } },
    });
    assert.ok(await client.publish("n.x", "42", { ack: "received" }));
    await assert.rejects(
      client.publish("n.x", "4.2", { ack: "received" }),
      (e: Error & { code?: string }) =>
        e.code === "SCHEMA_VIOLATION" && /keyword "type"/.test(e.message),
    );
    assert.deepEqual((await agents(node)).map((a) => a.name), ["sdk"]);
    await client.close();
  });
});

async function install(url: string, name: string, manifest: unknown) {
  const form = new FormData();
  form.append("component", new Blob([counter]), "op.wasm");
  form.append("manifest", JSON.stringify(manifest));
  const res = await fetch(`${url}/v1/operators/${name}`, { method: "PUT", body: form });
  return { status: res.status, body: await res.json() };
}

const OP_CARD = {
  capabilities: ["sum"],
  input_schema: { type: "integer" },
  output_schema: {
    type: "object",
    properties: { sum: { type: "integer", maximum: 10 } },
    required: ["sum"],
  },
};

Deno.test("an operator's card: bad inputs never reach handle, bad outputs fail the pulse; agents list both kinds", async () => {
  await withNode(async (node) => {
    const up = await install(node.url, "sum", { inputs: ["nums.>"], card: OP_CARD });
    assert.equal(up.status, 201, JSON.stringify(up.body));
    const s = await RawSocket.open(node.wsUrl, "arqon.v1.json");
    s.send(JSON.stringify({ hello: { clientName: "feeder", protocolVersion: 1 } }));
    await s.until(() => s.json.some((f) => f.welcome), "welcome");
    s.send(
      JSON.stringify({ subscribe: { subscriptionId: 1, pattern: "sums.>", correlationId: "5" } }),
    );
    await s.until(() => s.json.some((f) => f.subscribed), "subscribed");
    const feed = (text: string) =>
      s.send(JSON.stringify({ publish: { pulse: { topic: "nums.in", payload: btoa(text) } } }));
    const sums = () =>
      s.json.filter((f) => f.deliver)
        .map((f) =>
          JSON.parse(atob((f.deliver as { pulse: { payload: string } }).pulse.payload)).sum
        );
    // "trap" would trap inside handle (a counted failure): the input schema stops it first.
    for (const t of ["1", "trap", "2", '"x"', "3"]) feed(t);
    await s.until(() => sums().length === 3, "3 sums");
    assert.deepEqual(sums(), [1, 3, 6]);
    let op = await (await fetch(`${node.url}/v1/operators/sum`)).json();
    assert.equal(op.counters.inputRefusals, 2);
    assert.equal(op.counters.pulsesIn, 3);
    assert.equal(op.counters.failures, 0);
    assert.equal(await metric(node, "arqon_schema_violations_total", 'direction="input"'), 2);
    const [listed] = await agents(node);
    assert.equal(listed.kind, "operator");
    assert.equal(listed.name, "sum");
    assert.equal(listed.status, "running");
    assert.deepEqual(listed.capabilities, ["sum"]);
    assert.equal(listed.violations.input, 2);
    const firstActivity = listed.last_activity_ms;
    assert.ok(firstActivity > 0);

    // 6 + 5 = 11 breaks the output schema's maximum: the output is refused, a pulse failure.
    await sleep(20);
    feed("5");
    const deadline = Date.now() + 5000;
    while (op.counters.failures === 0 && Date.now() < deadline) {
      await sleep(20);
      op = await (await fetch(`${node.url}/v1/operators/sum`)).json();
    }
    assert.equal(op.counters.failures, 1);
    assert.equal(op.counters.pulsesIn, 4);
    assert.equal(op.counters.pulsesOut, 3);
    assert.equal(op.status, "running");
    assert.deepEqual(sums(), [1, 3, 6]);
    assert.equal(await metric(node, "arqon_schema_violations_total", 'direction="output"'), 1);

    // Replaced without a card: no checks; it restarts from the committed state (6, not 11).
    assert.equal((await install(node.url, "sum", { inputs: ["nums.>"] })).status, 200);
    feed("1");
    await s.until(() => sums().length === 4, "sum after the replace");
    assert.deepEqual(sums(), [1, 3, 6, 7]);
    assert.deepEqual((await agents(node))[0].capabilities, []);
    // And with its card again.
    assert.equal(
      (await install(node.url, "sum", { inputs: ["nums.>"], card: OP_CARD })).status,
      200,
    );

    // A client with a card in the same reality: both kinds listed; the operator's activity moved.
    const c = await hello(node, "probe", { capabilities: ["watch"] });
    const both = await agents(node);
    assert.deepEqual(both.map((a) => [a.kind, a.name]), [["operator", "sum"], ["client", "probe"]]);
    assert.ok(both[0].last_activity_ms > firstActivity, "operator activity moved");
    assert.deepEqual(both[0].capabilities, ["sum"]);
    assert.equal(both[1].last_activity_ms, 0);
    await c.close();

    // Invalid cards are refused at publication (the installed operator keeps running).
    const bad = async (card: unknown, pattern: RegExp) => {
      const r = await install(node.url, "other", { inputs: ["x.>"], card });
      assert.equal(r.status, 400, JSON.stringify(r.body));
      assert.equal(r.body.error.code, "INVALID_ARGUMENT");
      assert.match(r.body.error.message, pattern);
    };
    await bad({ capabilities: [], output_schema: { type: 7 } }, /manifest: card: output_schema/);
    await bad({ capabilities: [], input_schema: { $ref: "#/nowhere" } }, /card: input_schema/);
    await bad({ input_schema: true }, /card: capabilities must be an array/);
    await bad({ capabilities: [], realities: ["x"] }, /an operator is listed in its manifest/);
    await bad({ capabilities: ["y".repeat(70_000)] }, /exceed the limit of 65536/);
    assert.equal((await fetch(`${node.url}/v1/operators/other`)).status, 404);

    // Deleted: gone from the directory.
    assert.equal((await fetch(`${node.url}/v1/operators/sum`, { method: "DELETE" })).status, 200);
    assert.equal((await agents(node)).length, 0);
    await s.close();
  });
});

Deno.test("GET /v1/realities/{r}/agents refuses a bad reality name", async () => {
  await withNode(async (node) => {
    const res = await fetch(`${node.url}/v1/realities/Not%20A%20Name/agents`);
    assert.equal(res.status, 400);
    assert.equal((await res.json()).error.code, "INVALID_ARGUMENT");
  });
});

Deno.test("a card's backtracking pattern does not stall the node: other clients keep flowing", async () => {
  await withNode(async (node) => {
    const evil = await hello(node, "evil", {
      capabilities: [],
      output_schema: { type: "string", pattern: "^(a+)+$" },
    });
    const other = await hello(node, "other");
    const t0 = performance.now();
    publish(evil, 1, "x.y", JSON.stringify("a".repeat(20_000) + "!"));
    publish(other, 1, "x.y", "hi");
    const refused = await outcome(evil, 1);
    assert.equal(refused?.code, SCHEMA_VIOLATION);
    assert.match(refused!.message, /keyword "pattern"/);
    assert.equal(await outcome(other, 1), undefined);
    assert.ok(performance.now() - t0 < 3000, "answered within 3 s");
    await evil.close();
    await other.close();
  });
});
