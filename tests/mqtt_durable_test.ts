/**
 * QoS 1 acknowledgements are durable where the reality stores the topic: a PUBACK is sent
 * only after the pulse was committed, so every publish the client saw acknowledged is in
 * the history after the node is killed with SIGKILL and restarted.
 */
import assert from "node:assert/strict";
import { spawnNode } from "./store_node_process.ts";
import { RawMqtt } from "./mqtt_support.ts";

const COUNT = 300;

async function start(dataDir: string) {
  const node = await spawnNode(["--data-dir", dataDir, "--mqtt-port", "0"]);
  const mqttPort = Number(node.banner.match(/mqtt listening on mqtt:\/\/\S+:(\d+)/)![1]);
  return { ...node, mqttPort };
}

Deno.test({
  name: "QoS 1 PUBACKs follow the durable commit: all acknowledged pulses survive SIGKILL",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const dataDir = await Deno.makeTempDir({ prefix: "arqon-mqtt-durable-" });
    let node = await start(dataDir);
    try {
      const put = await fetch(`${node.url}/v1/realities/plant`, {
        method: "PUT",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ retention: [{ pattern: "meter.>" }] }),
      });
      assert.equal(put.status, 201, await put.text());
      const c = await RawMqtt.connect(node.mqttPort, { username: "plant" });
      // Pipelined: all sent at once, the node reads them as its in-flight bound allows.
      for (let i = 1; i <= COUNT; i++) {
        await c.publish("meter/m1/kwh", String(i), { qos: 1, messageId: i });
      }
      const acked = new Set<number>();
      const deadline = Date.now() + 10_000;
      while (acked.size < COUNT && Date.now() < deadline) {
        const p = await c.next("puback");
        acked.add(p.messageId as number);
      }
      assert.equal(acked.size, COUNT);
      // Killed the moment the last PUBACK arrived: nothing gets a graceful flush.
      node.child.kill("SIGKILL");
      await node.child.status;
      await node.rest;
      c.close();
      node = await start(dataDir);
      const res = await fetch(
        `${node.url}/v1/realities/plant/history?pattern=meter.>&limit=1000`,
      );
      assert.equal(res.status, 200);
      const lines = (await res.text()).trim().split("\n").map((l) => JSON.parse(l));
      const payloads = lines.map((p) => atob(p.payload));
      assert.deepEqual(payloads, Array.from({ length: COUNT }, (_, i) => String(i + 1)));
      assert.deepEqual(lines.map((p) => p.topic).slice(0, 1), ["meter.m1.kwh"]);
    } finally {
      node.child.kill("SIGKILL");
      await node.child.status;
      await node.rest;
      await Deno.remove(dataDir, { recursive: true });
    }
  },
});
