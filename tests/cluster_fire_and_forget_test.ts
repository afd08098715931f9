/**
 * Fire-and-forget realities on a cluster (`--cluster-fire-and-forget-replicas`), on three real
 * nats-server processes and two ArqonBus nodes: a reality without a retention rule gets a
 * stream of that many replicas, one with a rule keeps `--cluster-replicas`; pulses published
 * many at a time (acks pipelined, not awaited one by one) take strictly increasing, gapless
 * sequences in publish order, and a raw WebSocket subscriber on the other node gets each once,
 * in that order.
 */
import assert from "node:assert/strict";
import { connect } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { ArqonClient, type ArqonNode, startNode } from "../mod.ts";
import { realityStream } from "../runtime/cluster/mod.ts";
import { NatsCluster } from "./support/nats_cluster.ts";
import { client, delivered } from "./support/operators.ts";

function clusterNode(urls: string): Promise<ArqonNode> {
  return startNode({
    port: 0,
    memory: true,
    log: "quiet",
    shutdownGraceMs: 200,
    cluster: urls,
    clusterReplicas: 3,
    clusterFireAndForgetReplicas: 1,
  });
}

Deno.test("cluster: fire-and-forget realities get their replicas; pipelined publishes stay gapless and in order", async () => {
  const nats = await NatsCluster.start(3);
  const a = await clusterNode(nats.urls);
  const b = await clusterNode(nats.urls);
  const nc = await connect({ servers: nats.servers[0].url });
  try {
    const jsm = await jetstreamManager(nc);
    // A reality with a retention rule on A: its stream (made by A's first publish) is R3.
    const created = await fetch(`${a.url}/v1/realities`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "kept", retention: [{ pattern: ">" }] }),
    });
    assert.equal(created.status, 201, await created.text());
    const pub = await ArqonClient.connect(a.wsUrl, { name: "pub" });
    try {
      const first = await pub.publish("k.x", "k", { reality: "kept", ack: "durable" });
      assert.equal(first?.sequence, 1);
      const kept = await jsm.streams.info(realityStream("kept"));
      assert.equal(kept.config.num_replicas, 3);

      // A reality nobody gave a rule: a raw subscriber on B makes its stream, R1.
      const sub = await client(b.wsUrl, "f.>", "ff");
      // (made in the background once B has the subscription: asked until it exists)
      let replicas = 0;
      for (let i = 0; i < 100 && !replicas; i++) {
        if (i > 0) await new Promise((r) => setTimeout(r, 100));
        replicas = await jsm.streams.info(realityStream("ff"))
          .then((info) => info.config.num_replicas, () => 0);
      }
      assert.equal(replicas, 1);

      // 600 publishes on A, acks pipelined (received acks come once JetStream stored each),
      // with fire-and-forget ones between them.
      const n = 600;
      const acks: Promise<{ sequence: number } | undefined>[] = [];
      for (let i = 0; i < n; i++) {
        const ack = i % 3 === 2 ? "none" : "received";
        acks.push(pub.publish("f.x", `p${i}`, { reality: "ff", ack }));
      }
      const seqs = (await Promise.all(acks)).map((r, i) => [i, r?.sequence] as const)
        .filter(([, s]) => s !== undefined) as [number, number][];
      // Acknowledged sequences rise with publish order: the node hands them to NATS in
      // order on one connection, and the stream sequences them in arrival order.
      for (let k = 1; k < seqs.length; k++) assert.ok(seqs[k][1] > seqs[k - 1][1], `${seqs[k]}`);
      await sub.until(() => delivered(sub).length >= n, `${n} deliveries on B`, 20_000);
      const got = delivered(sub);
      assert.equal(got.length, n);
      // Every pulse once, in publish order, with the gapless stream sequences 1..n.
      assert.deepEqual(
        got.map((p) => atob(p.payload)),
        Array.from({ length: n }, (_, i) => `p${i}`),
      );
      assert.deepEqual(
        got.map((p) => Number(p.sequence)),
        Array.from({ length: n }, (_, i) => i + 1),
      );
      // Each acknowledged sequence is the one B delivered that pulse with.
      for (const [i, s] of seqs) assert.equal(s, i + 1);
      const info = await jsm.streams.info(realityStream("ff"));
      assert.equal(info.state.messages, n);
      assert.equal(info.state.last_seq, n);
      await sub.close();
    } finally {
      await pub.close();
    }
  } finally {
    await nc.close();
    await a.shutdown();
    await b.shutdown();
    await nats.close();
  }
});
