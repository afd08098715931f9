/** End-to-end through the TypeScript SDK against a real node. */
import assert from "node:assert/strict";
import { ArqonClient, type BusError, type IPulse, startNode } from "../mod.ts";
import { metric, sleep, withNode } from "./support/node.ts";

const text = (p: IPulse) => new TextDecoder().decode(p.payload);

async function collect(
  sub: AsyncIterable<IPulse>,
  count: number,
  timeoutMs = 10_000,
): Promise<IPulse[]> {
  const out: IPulse[] = [];
  const deadline = setTimeout(() => {
    throw new Error(`timed out after ${out.length}/${count} pulses`);
  }, timeoutMs);
  for await (const p of sub) {
    out.push(p);
    if (out.length === count) break;
  }
  clearTimeout(deadline);
  return out;
}

Deno.test("queue groups share messages; plain subscribers get all; wildcards match", async () => {
  await withNode(async (node) => {
    const pub = await ArqonClient.connect(node.wsUrl, { name: "pub" });
    const workers = await Promise.all(
      [0, 1, 2].map((i) => ArqonClient.connect(node.wsUrl, { name: `w${i}` })),
    );
    const got: string[][] = [[], [], []];
    const subs = workers.map((w, i) =>
      w.subscribe("jobs.*.run", { queueGroup: "workers", onPulse: (p) => got[i].push(text(p)) })
    );
    const audit: string[] = [];
    const auditSub = pub.subscribe("jobs.>", { onPulse: (p) => audit.push(text(p)) });
    await Promise.all([...subs.map((s) => s.ready), auditSub.ready]);
    const N = 300;
    await Promise.all(
      Array.from({ length: N }, (_, i) => pub.publish(`jobs.k${i % 7}.run`, `job-${i}`)),
    );
    await pub.publish("jobs.other", "not-for-workers");
    const deadline = Date.now() + 5000;
    while (audit.length < N + 1 || got.flat().length < N) {
      if (Date.now() > deadline) throw new Error("timed out");
      await sleep(5);
    }
    await sleep(50);
    const all = got.flat();
    assert.equal(all.length, N, "each job delivered to exactly one worker");
    assert.equal(new Set(all).size, N, "no duplicates within the group");
    for (const g of got) assert.ok(g.length > 0, "round robin reaches every member");
    assert.equal(audit.length, N + 1, "plain subscriber receives everything");
    for (const c of [pub, ...workers]) await c.close();
  });
});

Deno.test("concurrent publishers: sequences contiguous from 1, per-producer order kept", async () => {
  await withNode(async (node) => {
    const reader = await ArqonClient.connect(node.wsUrl, { name: "reader" });
    const sub = reader.subscribe("race.>", { reality: "race" });
    await sub.ready;
    const P = 4, N = 500;
    const publishers = await Promise.all(
      Array.from({ length: P }, (_, i) => ArqonClient.connect(node.wsUrl, { name: `p${i}` })),
    );
    const acks = await Promise.all(publishers.map(async (c, i) => {
      const out = [];
      for (let j = 0; j < N; j++) {
        out.push(c.publish(`race.p${i}`, `${i}:${j}`, { reality: "race" }));
        if (j % 50 === 0) await sleep(0);
      }
      return Promise.all(out);
    }));
    const pulses = await collect(sub, P * N);
    assert.deepEqual(
      pulses.map((p) => p.sequence),
      Array.from({ length: P * N }, (_, i) => i + 1),
      "delivered in sequence order with no gap",
    );
    const ackSeqs = acks.flat().map((a) => a!.sequence).sort((a, b) => a - b);
    assert.deepEqual(ackSeqs, Array.from({ length: P * N }, (_, i) => i + 1));
    for (let i = 0; i < P; i++) {
      const mine = pulses.filter((p) => p.producerId === `p${i}`).map((p) =>
        Number(text(p).split(":")[1])
      );
      assert.deepEqual(mine, Array.from({ length: N }, (_, j) => j), `producer p${i} in order`);
    }
    const other = await publishers[0].publish("race.x", "y");
    assert.equal(other!.sequence, 1, "the default reality has its own sequence");
    for (const c of [reader, ...publishers]) await c.close();
  });
});

Deno.test("request/reply through the SDK; errors reject with typed BusErrors", async () => {
  await withNode(async (node) => {
    const a = await ArqonClient.connect(node.wsUrl, { name: "a" });
    const b = await ArqonClient.connect(node.wsUrl, { name: "b" });
    const svc = b.subscribe("svc.upper", { onPulse: (p) => b.reply(p, text(p).toUpperCase()) });
    await svc.ready;
    const reply = await a.request("svc.upper", "hello");
    assert.equal(text(reply), "HELLO");
    assert.equal(reply.producerId, "b");
    await assert.rejects(a.request("svc.none", "x"), (e: BusError) => e.code === "NO_RESPONDERS");
    const mute = b.subscribe("svc.mute");
    await mute.ready;
    await assert.rejects(
      a.request("svc.mute", "x", { timeoutMs: 50 }),
      (e: BusError) => e.code === "TIMEOUT",
    );
    await assert.rejects(a.publish("Bad Topic", "x"), (e: BusError) => e.code === "INVALID_TOPIC");
    const bad = a.subscribe("a.>.b");
    await assert.rejects(bad.ready, (e: BusError) => e.code === "INVALID_PATTERN");
    assert.equal(await metric(node, "arqon_requests_total", 'outcome="ok"'), 1);
    await a.close();
    await b.close();
  });
});

Deno.test("credit flow control: max_in_flight holds deliveries at the node, none lost", async () => {
  await withNode(async (node) => {
    const c = await ArqonClient.connect(node.wsUrl);
    const sub = c.subscribe("flow.x", { maxInFlight: 8 });
    await sub.ready;
    for (let i = 0; i < 200; i++) c.publish("flow.x", String(i), { ack: "none" });
    await c.publish("flow.x", "200");
    const got: number[] = [];
    for await (const p of sub) {
      got.push(Number(text(p)));
      if (got.length % 20 === 0) await sleep(1); // a consumer slower than the producer
      if (got.length === 201) break;
    }
    assert.deepEqual(got, Array.from({ length: 201 }, (_, i) => i));
    assert.equal(await metric(node, "arqon_deliveries_dropped_total"), 0);
    await c.close();
  });
});

Deno.test("the client reconnects and resubscribes after the node restarts", async () => {
  const first = await startNode({ port: 0, log: "quiet" });
  const port = first.port;
  const sub = await ArqonClient.connect(first.wsUrl, { name: "sub", reconnectDelayMs: 20 });
  const s = sub.subscribe("life.>");
  await s.ready;
  await first.shutdown();
  let second;
  for (let i = 0; i < 50 && !second; i++) {
    try {
      second = await startNode({ port, log: "quiet" });
    } catch {
      await sleep(20); // the port may linger for a moment
    }
  }
  assert.ok(second, "restarted on the same port");
  try {
    const deadline = Date.now() + 10_000;
    while (sub.reconnects === 0 && Date.now() < deadline) await sleep(10);
    assert.equal(sub.reconnects, 1);
    await s.ready;
    const pub = await ArqonClient.connect(second.wsUrl);
    await pub.publish("life.after", "restart");
    const [p] = await collect(s, 1);
    assert.equal(text(p), "restart");
    await pub.close();
    await sub.close();
  } finally {
    await second.shutdown();
  }
});

Deno.test("noDelay clients (our TCP WebSocket) publish, subscribe and request like the default", async () => {
  await withNode(async (node) => {
    const a = await ArqonClient.connect(node.wsUrl, { name: "a", noDelay: true });
    const b = await ArqonClient.connect(node.wsUrl, { name: "b", noDelay: true });
    const sub = b.subscribe("nd.>");
    const svc = b.subscribe("nd-svc.echo", { onPulse: (p) => b.reply(p, text(p)) });
    await Promise.all([sub.ready, svc.ready]);
    const big = new Uint8Array(200_000).fill(7); // larger than one read buffer
    const acks = await Promise.all([a.publish("nd.one", "x"), a.publish("nd.two", big)]);
    assert.deepEqual(acks.map((x) => x!.sequence), [1, 2]);
    const got = await collect(sub, 2);
    assert.equal(text(got[0]), "x");
    assert.deepEqual(got[1].payload, big);
    assert.equal(text(await a.request("nd-svc.echo", "ping")), "ping");
    await a.close();
    await b.close();
  });
});
