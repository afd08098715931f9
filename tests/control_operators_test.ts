/**
 * Control parameters reaching operators end to end: an AssemblyScript operator built in the
 * test (`operators/testdata/control_echo.ts`: it emits the `k_c` it sees for each input),
 * installed over HTTP on a real node, fed from a raw WebSocket client (JSON subprotocol).
 * Each input must be handled with the parameter set current when it was sequenced, however
 * far behind the operator runs; a failing `on-control` is a counted failure.
 */
import assert from "node:assert/strict";
import { startNode } from "../mod.ts";
import { testOperatorComponent } from "../operators/build/mod.ts";
import { RawSocket } from "./support/raw_ws.ts";
import { withNode } from "./support/node.ts";

const echo = await testOperatorComponent("control_echo");
const counter = await testOperatorComponent("counter");

async function install(url: string, name: string, manifest: unknown, component = echo) {
  const form = new FormData();
  form.append("component", new Blob([component]), "op.wasm");
  form.append("manifest", JSON.stringify(manifest));
  const res = await fetch(`${url}/v1/operators/${name}`, { method: "PUT", body: form });
  return { status: res.status, body: await res.json() };
}

async function client(wsUrl: string, pattern: string): Promise<RawSocket> {
  const s = await RawSocket.open(wsUrl, "arqon.v1.json");
  s.send(JSON.stringify({ hello: { clientName: "feeder", protocolVersion: 1 } }));
  await s.until(() => s.json.some((f) => f.welcome), "welcome");
  s.send(JSON.stringify({ subscribe: { subscriptionId: 1, pattern, correlationId: "5" } }));
  await s.until(() => s.json.some((f) => f.subscribed), "subscribed");
  return s;
}

/** JSON publish frames (unacknowledged), sent as one batch so they are sequenced at once. */
const frame = (topic: string, text: string) => ({
  publish: { pulse: { topic, payload: btoa(text) } },
});
const control = (params: Record<string, unknown>) =>
  frame("sys.control.set", JSON.stringify({ params }));

type Echo = { n: number; k_c: number | null };
function echoes(s: RawSocket): Echo[] {
  return s.json.filter((f) => f.deliver)
    .map((f) => (f.deliver as { pulse: { topic: string; payload: string } }).pulse)
    .filter((p) => p.topic === "echo.k_c")
    .map((p) => JSON.parse(atob(p.payload)));
}

async function status(url: string, name: string) {
  return await (await fetch(`${url}/v1/operators/${name}`)).json();
}

const MANIFEST = { reality: "default", inputs: ["nums.>"] };

Deno.test("operators see the parameter set current when each input was sequenced", async () => {
  await withNode(async (node) => {
    const s = await client(node.wsUrl, "echo.>");
    // Set before the operator exists: it gets the current set right after init.
    s.send(JSON.stringify(control({ k_c: 0.1 })));
    await s.until(() => node.control.current("default").version === 1, "first set");
    assert.equal((await install(node.url, "echo", MANIFEST)).status, 201);
    // 3 x 150 inputs with a change between: all are sequenced long before the operator's
    // worker has handled the first batch of 64, so it runs far behind the changes.
    const frames: unknown[] = [];
    let n = 0;
    for (const k of [0.2, 0.3, null]) {
      for (let i = 0; i < 150; i++) frames.push(frame("nums.in", String(++n)));
      if (k !== null) frames.push(control({ k_c: k }));
    }
    // An instance trap in the middle: the rebuilt instance must be handed the set again.
    frames.splice(200, 0, frame("nums.in", "trap"));
    s.send(JSON.stringify({ batch: { frames } }));
    await s.until(() => echoes(s).length === 450, "450 echoes", 15_000);
    const seen = echoes(s);
    assert.deepEqual(seen.map((e) => e.n), Array.from({ length: 450 }, (_, i) => i + 1));
    const expected = (i: number) => i <= 150 ? 0.1 : i <= 300 ? 0.2 : 0.3;
    const wrong = seen.filter((e) => e.k_c !== expected(e.n));
    assert.deepEqual(wrong, [], "every input saw the set of its sequence");
    const got = await status(node.url, "echo");
    assert.equal(got.counters.pulsesIn, 451);
    assert.equal(got.counters.failures, 1, "the one trapping input");
    assert.equal(node.control.current("default").version, 3);
    s.ws.close();
  });
});

Deno.test("a refusing or trapping on-control is a counted failure; the operator keeps running", async () => {
  await withNode(async (node) => {
    const s = await client(node.wsUrl, "echo.>");
    assert.equal((await install(node.url, "echo", MANIFEST)).status, 201);
    const send = (...frames: unknown[]) => s.send(JSON.stringify({ batch: { frames } }));
    send(control({ k_c: 1 }), frame("nums.in", "1"));
    await s.until(() => echoes(s).length === 1, "first echo");
    // The operator refuses this set (an error, not a trap): counted, the set stays visible.
    send(control({ k_c: 2, mode: "refuse" }), frame("nums.in", "2"));
    await s.until(() => echoes(s).length === 2, "echo after a refused set");
    let got = await status(node.url, "echo");
    assert.equal(got.counters.failures, 1);
    // A trapping on-control: counted each time the set is offered; plain pub/sub unharmed.
    send(control({ k_c: 3, mode: "trap" }), frame("nums.in", "3"), frame("chat.msg", "hi"));
    await s.until(() => echoes(s).length === 3, "echo after a trapping set");
    got = await status(node.url, "echo");
    assert.ok(got.counters.failures >= 2, JSON.stringify(got.counters));
    assert.equal(got.status, "running");
    // A good set again: no more failures, the value is seen.
    send(control({ k_c: 4, mode: "ok" }), frame("nums.in", "4"), frame("nums.in", "5"));
    await s.until(() => echoes(s).length === 5, "echoes after a good set");
    const before = (await status(node.url, "echo")).counters.failures;
    send(frame("nums.in", "6"));
    await s.until(() => echoes(s).length === 6, "echo 6");
    assert.deepEqual(echoes(s).slice(3).map((e) => e.k_c), [4, 4, 4]);
    assert.deepEqual(echoes(s).slice(0, 2).map((e) => e.k_c), [1, 2]);
    assert.equal((await status(node.url, "echo")).counters.failures, before);
    s.ws.close();
  });
});

Deno.test("an idle operator gets a change at once, without waiting for an input", async () => {
  await withNode(async (node) => {
    const s = await client(node.wsUrl, "echo.>");
    assert.equal((await install(node.url, "echo", MANIFEST)).status, 201);
    // No input follows: the refusal can only come from on-control called on the change.
    s.send(JSON.stringify(control({ mode: "refuse" })));
    let got = await status(node.url, "echo");
    const deadline = Date.now() + 10_000;
    while (got.counters.failures === 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
      got = await status(node.url, "echo");
    }
    assert.equal(got.counters.failures, 1);
    assert.equal(got.counters.pulsesIn, 0);
    s.ws.close();
  });
});

Deno.test("a restarted node hands its operators the persisted parameters after init", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "arqon-control-ops-" });
  try {
    const config = { port: 0, log: "quiet" as const, shutdownGraceMs: 500, dataDir };
    let node = await startNode(config);
    try {
      assert.equal((await install(node.url, "echo", MANIFEST)).status, 201);
      const s = await client(node.wsUrl, "echo.>");
      s.send(JSON.stringify({ batch: { frames: [control({ k_c: 0.7 }), frame("nums.in", "1")] } }));
      await s.until(() => echoes(s).length === 1, "echo before restart");
      assert.equal(echoes(s)[0].k_c, 0.7);
      s.ws.close();
    } finally {
      await node.shutdown();
    }
    node = await startNode(config);
    try {
      const s = await client(node.wsUrl, "echo.>");
      s.send(JSON.stringify(frame("nums.in", "2")));
      await s.until(() => echoes(s).length === 1, "echo after restart");
      assert.deepEqual(echoes(s), [{ n: 2, k_c: 0.7 }]);
      s.ws.close();
    } finally {
      await node.shutdown();
    }
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("an operator's output on sys.control.set is checked like any publish", async () => {
  await withNode(async (node) => {
    const s = await client(node.wsUrl, "sys.control.>");
    // The counter emits {"sum":N}: not a parameter change, so each output is refused.
    const manifest = { ...MANIFEST, config: { out: "sys.control.set" } };
    assert.equal((await install(node.url, "sum", manifest, counter)).status, 201);
    s.send(JSON.stringify(frame("nums.in", "1")));
    let got = await status(node.url, "sum");
    const deadline = Date.now() + 10_000;
    while (got.counters.failures === 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
      got = await status(node.url, "sum");
    }
    assert.equal(got.counters.failures, 1);
    assert.equal(got.counters.pulsesOut, 0);
    assert.equal(node.control.current("default").version, 0);
    assert.equal(s.json.filter((f) => f.deliver).length, 0, "nothing reached sys.control.>");
    s.ws.close();
  });
});
