/**
 * `--cluster`: a node started with the flag joins a real nats-server (Debian's) with
 * JetStream; without one answering it does not start. The embedded node is unchanged.
 */
import assert from "node:assert/strict";
import { parseConfig, startNode } from "../mod.ts";
import { NatsCluster } from "./support/nats_cluster.ts";

Deno.test("a node started with --cluster holds a JetStream connection; closes it at shutdown", async () => {
  const nats = await NatsCluster.start(1);
  try {
    const parsed = parseConfig([
      "--port",
      "0",
      "--memory",
      "--log",
      "quiet",
      "--cluster",
      nats.urls,
      "--cluster-replicas",
      "1",
    ]);
    assert.equal(parsed.help, false);
    if (parsed.help) return;
    const node = await startNode(parsed.config);
    const cluster = node.cluster!;
    try {
      assert.ok(cluster, "node.cluster is set");
      assert.equal(cluster.replicas, 1);
      assert.deepEqual(cluster.servers, [nats.servers[0].url]);
      const info = await cluster.jsm.getAccountInfo();
      assert.ok(info.limits, "JetStream answers through the node's connection");
      assert.equal((await fetch(`${node.url}/healthz`)).status < 500, true);
    } finally {
      await node.shutdown();
    }
    assert.equal(cluster.nc.isClosed(), true);
  } finally {
    await nats.close();
  }
});

Deno.test("a node without --cluster has no cluster connection", async () => {
  const node = await startNode({ port: 0, memory: true, log: "quiet" });
  try {
    assert.equal(node.cluster, null);
  } finally {
    await node.shutdown();
  }
});

Deno.test("a node whose --cluster servers do not answer does not start", async () => {
  await assert.rejects(
    () => startNode({ port: 0, memory: true, log: "quiet", cluster: "nats://127.0.0.1:1" }),
  );
});
