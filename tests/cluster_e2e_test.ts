/**
 * Realities on JetStream streams, across real processes and sockets: two ArqonBus nodes on
 * one real nats-server (Debian's) with JetStream. A pulse published on one node reaches a
 * raw WebSocket subscriber (JSON subprotocol, not our SDK) on the other, in sequence order;
 * sequences are the stream's, contiguous whichever node published; durable acks are
 * JetStream's; history on the other node has them. A node partitioned from NATS refuses
 * with CLUSTER_UNAVAILABLE (503) and recovers by itself.
 */
import assert from "node:assert/strict";
import { type ArqonNode, startNode } from "../mod.ts";
import { NatsCluster } from "./support/nats_cluster.ts";
import { client, delivered } from "./support/operators.ts";
import { RawSocket } from "./support/raw_ws.ts";

async function clusterNode(urls: string): Promise<ArqonNode> {
  return await startNode({
    port: 0,
    memory: true,
    log: "quiet",
    shutdownGraceMs: 200,
    cluster: urls,
    clusterReplicas: 1,
  });
}

async function post(node: ArqonNode, reality: string, topic: string, body: string) {
  const res = await fetch(`${node.url}/v1/realities/${reality}/topics/${topic}?ack=durable`, {
    method: "POST",
    body,
  });
  return { status: res.status, json: await res.json() };
}

Deno.test("cluster: publishes on two nodes reach a subscriber on the other in one gapless sequence", async () => {
  const nats = await NatsCluster.start(1);
  const a = await clusterNode(nats.urls);
  const b = await clusterNode(nats.urls);
  try {
    // B keeps history of the reality (its own retention rule) and has a raw subscriber.
    const created = await fetch(`${b.url}/v1/realities`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "orders", retention: [{ pattern: ">" }] }),
    });
    assert.equal(created.status, 201, await created.text());
    const subB = await client(b.wsUrl, "order.>", "orders");
    const subA = await client(a.wsUrl, "order.>", "orders");
    // Durable publishes alternating between the nodes, over HTTP (fetch).
    const seqs: number[] = [];
    for (let i = 0; i < 40; i++) {
      const r = await post(i % 2 ? b : a, "orders", "order.new", `o${i}`);
      assert.equal(r.status, 200, JSON.stringify(r.json));
      seqs.push(Number(r.json.sequence));
    }
    assert.deepEqual(seqs, Array.from({ length: 40 }, (_, i) => i + 1));
    // Fire-and-forget from a raw WebSocket on A, then wait for all on both subscribers.
    for (let i = 40; i < 100; i++) {
      subA.send(JSON.stringify({
        publish: { pulse: { topic: "order.new", realityId: "orders", payload: btoa(`o${i}`) } },
      }));
    }
    for (const s of [subA, subB]) {
      await s.until(() => delivered(s).length >= 100, "100 deliveries", 15_000);
      const got = delivered(s);
      assert.equal(got.length, 100);
      assert.deepEqual(
        got.map((p) => Number(p.sequence)),
        Array.from({ length: 100 }, (_, i) => i + 1),
      );
      assert.deepEqual(
        got.map((p) => atob(p.payload)),
        Array.from({ length: 100 }, (_, i) => `o${i}`),
      );
    }
    // The entropy seed each pulse got derives from its sequence: the same on both nodes.
    const seedsA = delivered(subA).map((p) => String(p.entropySeed));
    assert.deepEqual(delivered(subB).map((p) => String(p.entropySeed)), seedsA);
    assert.equal(new Set(seedsA).size, 100);
    // History on B: every pulse, with the stream's sequences. B's log takes what it consumes
    // from the stream in group commits, which may trail the deliveries by a commit.
    let lines: { sequence: string }[] = [];
    for (let i = 0; i < 100 && lines.length < 100; i++) {
      if (i > 0) await new Promise((r) => setTimeout(r, 50));
      const history = await fetch(`${b.url}/v1/realities/orders/history?limit=1000`);
      assert.equal(history.status, 200);
      lines = (await history.text()).trim().split("\n").map((l) => JSON.parse(l));
    }
    assert.deepEqual(
      lines.map((p) => Number(p.sequence)),
      Array.from({ length: 100 }, (_, i) => i + 1),
    );
    // A third node started later joins: its publish continues the one sequence.
    const c = await clusterNode(nats.urls);
    try {
      const late = await client(c.wsUrl, "order.>", "orders");
      const r = await post(c, "orders", "order.new", "late");
      assert.equal(r.json.sequence, 101);
      await late.until(() => delivered(late).some((p) => atob(p.payload) === "late"), "late");
      await subB.until(() => delivered(subB).length === 101, "101 on B");
      await late.close();
    } finally {
      await c.shutdown();
    }
    await subA.close();
    await subB.close();
  } finally {
    await a.shutdown();
    await b.shutdown();
    await nats.close();
  }
});

Deno.test("cluster: a node cut off from NATS refuses with CLUSTER_UNAVAILABLE (503), then recovers", async () => {
  const nats = await NatsCluster.start(1);
  const a = await clusterNode(nats.urls);
  try {
    const sub = await client(a.wsUrl, "t.>", "p");
    assert.equal((await post(a, "p", "t.x", "before")).json.sequence, 1);
    await nats.servers[0].kill();
    // The client notices the loss within its ping interval; until then a publish times out
    // into the same refusal. Never an acknowledgement. /healthz tells a load balancer.
    let refused = 0;
    for (let i = 0; i < 3; i++) {
      const r = await post(a, "p", "t.x", `during${i}`);
      assert.equal(r.status, 503, JSON.stringify(r.json));
      assert.equal(r.json.error.code, "CLUSTER_UNAVAILABLE");
      refused++;
    }
    assert.equal(refused, 3);
    const sick = await fetch(`${a.url}/healthz`);
    assert.equal(sick.status, 503);
    assert.equal((await sick.json()).status, "cluster_unavailable");
    nats.servers[0].start();
    await nats.waitHealthy();
    // Recovers by itself: publishing works again, the sequence continues.
    let seq = 0;
    for (let i = 0; i < 100 && seq === 0; i++) {
      const r = await post(a, "p", "t.x", "after");
      if (r.status === 200) seq = Number(r.json.sequence);
      else await new Promise((r) => setTimeout(r, 200));
    }
    assert.ok(seq >= 2, `sequence after recovery: ${seq}`);
    assert.equal((await fetch(`${a.url}/healthz`)).status, 200);
    // Its subscriber gets what was stored, gapless, once the consumer is back.
    await sub.until(() => delivered(sub).some((p) => atob(p.payload) === "after"), "after", 10_000);
    const seqs = delivered(sub).map((p) => Number(p.sequence));
    assert.deepEqual(seqs, Array.from({ length: seqs.length }, (_, i) => i + 1));
    await sub.close();
  } finally {
    await a.shutdown();
    await nats.close();
  }
});

Deno.test("cluster: a queue group spans nodes (each pulse to one member); request/reply across nodes", async () => {
  const nats = await NatsCluster.start(1);
  const a = await clusterNode(nats.urls);
  const b = await clusterNode(nats.urls);
  try {
    // One member of group "workers" on each node, raw JSON WebSocket clients.
    const members: RawSocket[] = [];
    for (const node of [a, b]) {
      const s = await RawSocket.open(node.wsUrl, "arqon.v1.json");
      s.send(JSON.stringify({ hello: { clientName: "w", protocolVersion: 1 } }));
      await s.until(() => s.json.some((f) => f.welcome), "welcome");
      s.send(JSON.stringify({
        subscribe: {
          subscriptionId: 1,
          pattern: "job.>",
          queueGroup: "workers",
          realityId: "jobs",
          correlationId: "1",
        },
      }));
      await s.until(() => s.json.some((f) => f.subscribed), "subscribed");
      members.push(s);
    }
    for (let i = 0; i < 60; i++) {
      assert.equal((await post(i % 2 ? a : b, "jobs", "job.run", `j${i}`)).status, 200);
    }
    const total = () => members.reduce((n, s) => n + delivered(s).length, 0);
    await members[0].until(() => total() >= 60, "60 jobs handed out", 15_000);
    // A moment more: nothing is handed out twice.
    await new Promise((r) => setTimeout(r, 300));
    const all = members.flatMap((s) => delivered(s).map((p) => atob(p.payload)));
    assert.equal(all.length, 60);
    assert.equal(new Set(all).size, 60);
    // Each member got its share (both nodes pull from the shared consumer), in order.
    for (const s of members) {
      assert.ok(delivered(s).length > 0, "each node's member got some");
      const seqs = delivered(s).map((p) => Number(p.sequence));
      assert.deepEqual(seqs, [...seqs].sort((x, y) => x - y));
    }

    // Request/reply: the responder on B, the requester over HTTP on A.
    const responder = await client(b.wsUrl, "svc.echo", "rpc");
    responder.json.length = 0;
    const answering = (async () => {
      await responder.until(() => delivered(responder).length > 0, "request", 10_000);
      const req = delivered(responder)[0];
      responder.send(JSON.stringify({
        publish: {
          pulse: {
            topic: req.replyTo,
            realityId: "rpc",
            payload: btoa(`echo:${atob(req.payload)}`),
          },
        },
      }));
    })();
    const res = await fetch(`${a.url}/v1/realities/rpc/request/svc.echo?timeout_ms=10000`, {
      method: "POST",
      body: "hi",
    });
    const body = await res.text();
    assert.equal(res.status, 200, body);
    assert.match(body, /echo:hi|ZWNobzpoaQ/);
    await answering;
    // Nobody anywhere subscribes: NO_RESPONDERS at once, from any node.
    const none = await fetch(`${a.url}/v1/realities/rpc/request/svc.none`, {
      method: "POST",
      body: "x",
    });
    assert.equal(none.status, 503);
    assert.equal((await none.json()).error.code, "NO_RESPONDERS");
    for (const s of [...members, responder]) await s.close();
  } finally {
    await a.shutdown();
    await b.shutdown();
    await nats.close();
  }
});
