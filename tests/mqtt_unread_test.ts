/**
 * MQTT subscribers that never read, fed by a WebSocket flood: an MQTT connection is a
 * session like a WebSocket one, so it stops being written at the high-water mark and its
 * subscription queue drops by its bound. The node (a child process, its RSS its own)
 * stays bounded and keeps serving MQTT clients.
 */
import assert from "node:assert/strict";
import { metricAt, NodeChild } from "./adversarial/edge_support.ts";
import { flood, mb, publishFrame, RawTcpWs } from "./adversarial/support.ts";
import { RawMqtt, runTool, sleep } from "./mqtt_support.ts";

// 16 KB pulses: a flood of hundreds of megabytes in a few seconds, even on a busy machine.
const PAYLOAD = 16 * 1024;

Deno.test({
  name: "MQTT subscribers that never read keep node memory within its queue bounds (RSS)",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const node = await NodeChild.start([
      "--mqtt-port",
      "0",
      "--queue-messages",
      "2000",
      "--queue-bytes",
      "2097152",
      "--high-water-bytes",
      "65536",
    ]);
    const mqttPort = Number(node.banner.match(/mqtt listening on mqtt:\/\/\S+:(\d+)/)![1]);
    const silent: RawMqtt[] = [];
    let pub: RawTcpWs | null = null;
    try {
      for (let i = 0; i < 4; i++) {
        // Never reads: not even its CONNACK.
        const c = await RawMqtt.open(mqttPort, 4, false);
        await c.send({
          cmd: "connect",
          protocolId: "MQTT",
          protocolVersion: 4,
          clean: true,
          clientId: `silent-${i}`,
          keepalive: 0,
        });
        await c.send({
          cmd: "subscribe",
          messageId: 1,
          subscriptions: [{ topic: "flood/#", qos: i % 2 === 0 ? 0 : 1 }],
        });
        silent.push(c);
      }
      await sleep(500);
      assert.equal(await metricAt(node.url, "arqon_subscriptions"), 4);
      const before = node.rss();
      pub = await RawTcpWs.open(node.port);
      // Up to 128 MiB, for at most 45 s: a busy machine floods slower, not less (20 s gave
      // 13 MB at load 20).
      const frame = publishFrame("flood.x", new Uint8Array(PAYLOAD));
      const sent = await flood(pub, frame, 45_000, 128 * 1024 * 1024);
      const after = node.rss();
      console.log(`  RSS ${mb(before)} -> ${mb(after)} after ${mb(sent)} flooded`);
      assert.ok(sent >= 64 * 1024 * 1024, `the flood was real (${mb(sent)})`);
      assert.ok(
        after - before < 150 * 1024 * 1024,
        `node RSS grew ${mb(after - before)} (${mb(before)} -> ${mb(after)})`,
      );
      assert.ok(
        await metricAt(node.url, "arqon_deliveries_dropped_total", 'reason="drop_oldest"') > 0,
        "the silent subscribers' queues dropped by their bound",
      );
      assert.ok(await metricAt(node.url, "arqon_transport_stalls_total", 'transport="mqtt"') > 0);
      // Another MQTT client is served meanwhile.
      const ok = await runTool("mosquitto_pub", [
        "-p",
        String(mqttPort),
        "-t",
        "calm/topic",
        "-m",
        "still here",
        "-q",
        "1",
      ]);
      assert.equal(ok.code, 0, ok.stderr);
    } finally {
      pub?.close();
      for (const s of silent) s.close();
      await node.stop();
    }
  },
});
