import assert from "node:assert/strict";
import { NatsCluster } from "../../tests/support/nats_cluster.ts";
import { clusterServers, connectCluster } from "./mod.ts";

Deno.test("clusterServers splits --cluster on commas and drops blanks", () => {
  assert.deepEqual(clusterServers(" nats://a:1, ,nats://b:2,"), ["nats://a:1", "nats://b:2"]);
});

Deno.test("connectCluster refuses bad options before connecting", async () => {
  await assert.rejects(() => connectCluster({ cluster: " , " }), /at least one/);
  await assert.rejects(
    () => connectCluster({ cluster: "nats://127.0.0.1:1", clusterReplicas: 7 }),
    /0 to 5/,
  );
  await assert.rejects(
    () => connectCluster({ cluster: "nats://127.0.0.1:1", clusterTlsCert: "c.pem" }),
    /go together/,
  );
});

Deno.test("connectCluster opens JetStream on a real nats-server; R1 on a lone server", async () => {
  const nats = await NatsCluster.start(1);
  try {
    const c = await connectCluster({ cluster: nats.urls });
    try {
      assert.equal(c.replicas, 1);
      assert.equal(c.connected, true);
      // A real JetStream round trip: a stream, an acked publish, the message read back.
      await c.jsm.streams.add({ name: "t", subjects: ["t.>"] });
      const ack = await c.js.publish("t.a", new TextEncoder().encode("hello"));
      assert.equal(ack.seq, 1);
      const msg = await c.jsm.streams.getMessage("t", { seq: 1 });
      assert.equal(new TextDecoder().decode(msg!.data), "hello");
    } finally {
      await c.close();
    }
  } finally {
    await nats.close();
  }
});

Deno.test("connectCluster on a 3-server JetStream cluster picks R3; reports disconnects", async () => {
  const nats = await NatsCluster.start(3);
  try {
    const c = await connectCluster({ cluster: nats.servers[0].url });
    try {
      assert.equal(c.clusterSize, 3);
      assert.equal(c.replicas, 3);
      const info = await c.jsm.streams.add({ name: "r3", subjects: ["r3.>"], num_replicas: 3 });
      assert.equal(info.config.num_replicas, 3);
      const changes: boolean[] = [];
      c.onAvailability((up) => changes.push(up));
      // Its only known server dies: the connection moves to another one by itself.
      await nats.servers[0].kill();
      for (let i = 0; i < 100 && changes.length < 2; i++) {
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.deepEqual(changes, [false, true]);
      assert.equal(c.connected, true);
    } finally {
      await c.close();
    }
  } finally {
    await nats.close();
  }
});

Deno.test("connectCluster fails clearly when no server answers", async () => {
  await assert.rejects(() => connectCluster({ cluster: "nats://127.0.0.1:1" }));
});
