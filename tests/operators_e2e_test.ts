/**
 * Operators end to end: a real node on an ephemeral port, an operator built from
 * AssemblyScript in the test and installed over HTTP, pulses fed from a raw WebSocket
 * client (JSON subprotocol); outputs, state across a restart, trap isolation, quarantine
 * and resume.
 */
import assert from "node:assert/strict";
import { type ArqonNode, startNode } from "../mod.ts";
import { testPolicyComponent } from "../casil/build/mod.ts";
import { testOperatorComponent } from "../operators/build/mod.ts";
import { RawSocket } from "./support/raw_ws.ts";
import { withNode } from "./support/node.ts";

const counter = await testOperatorComponent("counter");
const policy = await testPolicyComponent("no_shouting");

async function install(url: string, name: string, manifest: unknown, component = counter) {
  const form = new FormData();
  form.append("component", new Blob([component]), "op.wasm");
  form.append("manifest", JSON.stringify(manifest));
  const res = await fetch(`${url}/v1/operators/${name}`, { method: "PUT", body: form });
  return { status: res.status, body: await res.json() };
}

async function client(node: ArqonNode, pattern: string): Promise<RawSocket> {
  const s = await RawSocket.open(node.wsUrl, "arqon.v1.json");
  s.send(JSON.stringify({ hello: { clientName: "feeder", protocolVersion: 1 } }));
  await s.until(() => s.json.some((f) => f.welcome), "welcome");
  s.send(JSON.stringify({ subscribe: { subscriptionId: 1, pattern, correlationId: "5" } }));
  await s.until(() => s.json.some((f) => f.subscribed), "subscribed");
  return s;
}

function publish(s: RawSocket, topic: string, text: string, extra: Record<string, unknown> = {}) {
  s.send(JSON.stringify({ publish: { pulse: { topic, payload: btoa(text), ...extra } } }));
}

type Pulse = Record<string, unknown> & { payload: string; topic: string };
function delivered(s: RawSocket, topic?: string): Pulse[] {
  return s.json.filter((f) => f.deliver)
    .map((f) => (f.deliver as { pulse: Pulse }).pulse)
    .filter((p) => topic === undefined || p.topic === topic);
}
const sums = (s: RawSocket) =>
  delivered(s, "sums.total").map((p) => JSON.parse(atob(p.payload)).sum);

const MANIFEST = { reality: "default", inputs: ["nums.>"] };

Deno.test("an operator's outputs come back in order, with its producer, trace and hop count", async () => {
  await withNode(async (node) => {
    const up = await install(node.url, "sum", MANIFEST);
    assert.equal(up.status, 201, JSON.stringify(up.body));
    assert.equal(up.body.status, "running");
    const s = await client(node, "sums.>");
    const trace = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    for (let i = 1; i <= 20; i++) {
      publish(s, "nums.in", String(i), i === 1 ? { traceContext: { traceparent: trace } } : {});
    }
    await s.until(() => sums(s).length === 20, "20 sums");
    assert.deepEqual(sums(s), Array.from({ length: 20 }, (_, i) => ((i + 1) * (i + 2)) / 2));
    const first = delivered(s, "sums.total")[0];
    assert.equal(first.producerId, "operator:sum");
    assert.deepEqual((first.headers as Record<string, string>)["arqon-hops"], "1");
    const tp = (first.traceContext as Record<string, string>).traceparent;
    assert.match(tp, /^00-4bf92f3577b34da6a3ce929d0e0e4736-[0-9a-f]{16}-01$/);
    assert.notEqual(tp, trace);
    const got = await (await fetch(`${node.url}/v1/operators/sum`)).json();
    assert.equal(got.counters.pulsesIn, 20);
    assert.equal(got.counters.pulsesOut, 20);
    assert.equal(got.counters.failures, 0);
    assert.ok(got.counters.fuelUsed > 0);
    assert.ok(got.handle_ms.p99 >= got.handle_ms.p50);
    assert.equal((await (await fetch(`${node.url}/v1/operators`)).json()).length, 1);
    // Replacing keeps the state.
    assert.equal((await install(node.url, "sum", MANIFEST)).status, 200);
    publish(s, "nums.in", "1");
    await s.until(() => sums(s).length === 21, "sum after replace");
    assert.equal(sums(s)[20], 211);
    s.ws.close();
  });
});

Deno.test("bad publications are 4xx with a JSON error", async () => {
  await withNode(async (node) => {
    const bad = await install(node.url, "x", { inputs: ["a..b"] });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.code, "INVALID_ARGUMENT");
    assert.match(bad.body.error.message, /input pattern/);
    const wrong = await install(node.url, "y", MANIFEST, policy);
    assert.equal(wrong.status, 400);
    assert.match(wrong.body.error.message, /world arqon:bus\/operator/);
    const init = await install(node.url, "z", { ...MANIFEST, config: { out: 3 } });
    assert.equal(init.status, 400);
    assert.match(init.body.error.message, /out must be a topic/);
    assert.equal((await fetch(`${node.url}/v1/operators/none`)).status, 404);
    assert.equal((await fetch(`${node.url}/v1/operators/none`, { method: "DELETE" })).status, 404);
  });
});

Deno.test("operator state survives a node restart (data dir)", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "arqon-ops-" });
  try {
    const config = { port: 0, log: "quiet" as const, shutdownGraceMs: 500, dataDir };
    let node = await startNode(config);
    try {
      assert.equal((await install(node.url, "sum", MANIFEST)).status, 201);
      const s = await client(node, "sums.>");
      for (const n of [5, 7]) publish(s, "nums.in", String(n));
      await s.until(() => sums(s).length === 2, "2 sums");
      s.ws.close();
    } finally {
      await node.shutdown();
    }
    node = await startNode(config);
    try {
      const got = await (await fetch(`${node.url}/v1/operators/sum`)).json();
      assert.equal(got.status, "running");
      const s = await client(node, "sums.>");
      publish(s, "nums.in", "1");
      await s.until(() => sums(s).length === 1, "sum after restart");
      assert.deepEqual(sums(s), [13]);
      s.ws.close();
    } finally {
      await node.shutdown();
    }
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("a trapping operator is isolated, quarantined after its failures, and resumed", async () => {
  await withNode(async (node) => {
    assert.equal((await install(node.url, "sum", MANIFEST)).status, 201);
    const s = await client(node, ">");
    publish(s, "nums.in", "2");
    for (let i = 0; i < 3; i++) publish(s, "nums.in", "trap");
    // Plain pub/sub keeps flowing while the operator fails.
    publish(s, "chat.msg", "hi");
    publish(s, "nums.in", "3");
    await s.until(() => delivered(s, "chat.msg").length === 1, "plain pub/sub");
    await s.until(() => sums(s).length === 2, "sums around the traps");
    assert.deepEqual(sums(s), [2, 5]);
    let got = await (await fetch(`${node.url}/v1/operators/sum`)).json();
    assert.equal(got.counters.failures, 3);
    assert.equal(got.status, "running");
    for (let i = 0; i < 3; i++) publish(s, "nums.in", "trap");
    const deadline = Date.now() + 5000;
    while (got.status !== "quarantined" && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
      got = await (await fetch(`${node.url}/v1/operators/sum`)).json();
    }
    assert.equal(got.status, "quarantined");
    assert.match(got.reason, /failures within/);
    publish(s, "nums.in", "100");
    publish(s, "chat.msg", "still");
    await s.until(() => delivered(s, "chat.msg").length === 2, "pub/sub after quarantine");
    assert.equal(sums(s).length, 2);
    const resumed = await fetch(`${node.url}/v1/operators/sum/resume`, { method: "POST" });
    assert.equal(resumed.status, 200);
    assert.equal((await resumed.json()).status, "running");
    publish(s, "nums.in", "1");
    await s.until(() => sums(s).length === 3, "sum after resume");
    assert.equal(sums(s)[2], 6);
    const audit = await (await fetch(`${node.url}/v1/audit?limit=100`)).json();
    const actions = (audit.entries ?? audit).map((e: { action: string }) => e.action);
    for (const a of ["operator.install", "operator.quarantine", "operator.resume"]) {
      assert.ok(actions.includes(a), `${a} in ${actions}`);
    }
    assert.equal((await fetch(`${node.url}/v1/operators/sum`, { method: "DELETE" })).status, 200);
    assert.ok(
      (await (await fetch(`${node.url}/v1/audit?limit=100`)).json()).entries
        .some((e: { action: string }) => e.action === "operator.delete"),
    );
    s.ws.close();
  }, { operatorMaxFailures: 6 });
});
