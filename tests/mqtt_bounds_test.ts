/**
 * Every bound of the MQTT listener driven past over real sockets: packet size, QoS 1
 * deliveries in flight, the CONNECT deadline, the retained-message count and bytes, QoS 2
 * (not offered), the connection cap. Each is counted in /metrics, and the node keeps
 * serving other clients.
 */
import assert from "node:assert/strict";
import { type ArqonNode, startNode } from "../mod.ts";
import { metric, withNode } from "./support/node.ts";
import { F, RawMqtt, runTool, sleep, wsClient, wsPublish } from "./mqtt_support.ts";

const limitHits = (node: ArqonNode, limit: string) =>
  metric(node, "arqon_limit_hits_total", `limit="${limit}"`);

async function stillServed(node: ArqonNode): Promise<void> {
  const r = await runTool("mosquitto_pub", [
    "-p",
    String(node.mqttPort),
    "-t",
    "still/served",
    "-m",
    "yes",
    "-q",
    "1",
  ]);
  assert.equal(r.code, 0, r.stderr);
}

Deno.test("a packet over --mqtt-max-packet-bytes closes the connection (5.0: DISCONNECT 0x95 first)", async () => {
  await withNode(async (node) => {
    const v5 = await RawMqtt.connect(node.mqttPort!, {}, 5);
    await v5.publish("big/one", new Uint8Array(2000));
    const bye = await v5.next("disconnect");
    assert.equal(bye.reasonCode, 0x95);
    await v5.untilClosed();
    // 3.1.1 has no server DISCONNECT: closed. A header announcing 256 MiB is refused at once.
    const v4 = await RawMqtt.connect(node.mqttPort!);
    await v4.write(new Uint8Array([0x30, 0xff, 0xff, 0xff, 0x7f]));
    await v4.untilClosed();
    assert.equal(await limitHits(node, "mqtt_packet_bytes"), 2);
    // Just under the bound passes.
    const ok = await RawMqtt.connect(node.mqttPort!);
    await ok.publish("big/ok", new Uint8Array(900), { qos: 1, messageId: 1 });
    assert.equal((await ok.next("puback")).messageId, 1);
    ok.close();
    await stillServed(node);
  }, { mqttPort: 0, memory: true, mqttMaxPacketBytes: 1024 });
});

Deno.test("a QoS 1 subscriber holding PUBACKs back gets --mqtt-max-inflight deliveries, then one per PUBACK", async () => {
  await withNode(async (node) => {
    const sub = await RawMqtt.connect(node.mqttPort!);
    await sub.send({
      cmd: "subscribe",
      messageId: 1,
      subscriptions: [{ topic: "work/+", qos: 1 }],
    });
    assert.deepEqual((await sub.next("suback")).granted, [1]);
    const ws = await wsClient(node.wsUrl);
    try {
      for (let i = 1; i <= 10; i++) ws.send(wsPublish(i, `work.item${i}`, String(i)));
      await ws.wait(F.ack, 10);
      await sleep(300);
      const publishes = () => sub.received.filter((p) => p.cmd === "publish");
      assert.equal(publishes().length, 4, "only the in-flight bound is sent");
      const first = publishes().slice(0, 2) as { messageId?: number }[];
      for (const p of first) await sub.send({ cmd: "puback", messageId: p.messageId });
      await sleep(300);
      assert.equal(publishes().length, 6, "each PUBACK lets one more through");
      const topics = publishes().map((p) => (p as { topic: string }).topic);
      assert.deepEqual(topics, [
        "work/item1",
        "work/item2",
        "work/item3",
        "work/item4",
        "work/item5",
        "work/item6",
      ]);
    } finally {
      await ws.close();
      sub.close();
    }
  }, { mqttPort: 0, memory: true, mqttMaxInflight: 4 });
});

Deno.test("a TCP client that never sends CONNECT is closed after --mqtt-connect-timeout", async () => {
  await withNode(async (node) => {
    const t0 = Date.now();
    const silent = await RawMqtt.open(node.mqttPort!);
    // Anything but CONNECT first is refused at once.
    const rude = await RawMqtt.open(node.mqttPort!);
    await rude.write(new Uint8Array([0xc0, 0x00]));
    await rude.untilClosed(1000);
    await silent.untilClosed(3000);
    assert.ok(Date.now() - t0 >= 900, "closed before the deadline");
    assert.equal(await limitHits(node, "mqtt_connect_timeout"), 1);
    assert.equal(await metric(node, "arqon_errors_total", 'code="PROTOCOL_VIOLATION"'), 1);
    await stillServed(node);
  }, { mqttPort: 0, memory: true, mqttConnectTimeoutSeconds: 1 });
});

Deno.test("retained messages past --mqtt-retained-messages / -bytes are published but not retained", async () => {
  await withNode(async (node) => {
    const port = String(node.mqttPort);
    for (let i = 1; i <= 5; i++) {
      const r = await runTool("mosquitto_pub", [
        "-p",
        port,
        "-t",
        `cfg/k${i}`,
        "-m",
        `v${i}`,
        "-r",
        "-q",
        "1",
      ]);
      assert.equal(r.code, 0, r.stderr);
    }
    // 100 bytes on a retained topic over the byte bound (3 x 2 + 100 > 64).
    const big = await runTool("mosquitto_pub", [
      "-p",
      port,
      "-t",
      "cfg/k1",
      "-m",
      "x".repeat(100),
      "-r",
      "-q",
      "1",
    ]);
    assert.equal(big.code, 0, big.stderr);
    assert.equal(await limitHits(node, "mqtt_retained"), 3);
    const late = await runTool("mosquitto_sub", [
      "-p",
      port,
      "-t",
      "cfg/#",
      "-v",
      "-C",
      "3",
      "-W",
      "3",
    ]);
    assert.deepEqual(late.stdout.trim().split("\n").sort(), [
      "cfg/k1 v1",
      "cfg/k2 v2",
      "cfg/k3 v3",
    ]);
    // Nothing more is retained: a fourth message would have arrived within the wait.
    const more = await runTool("mosquitto_sub", [
      "-p",
      port,
      "-t",
      "cfg/#",
      "-v",
      "-C",
      "4",
      "-W",
      "1",
    ]);
    assert.equal(more.stdout.trim().split("\n").length, 3);
  }, { mqttPort: 0, memory: true, mqttRetainedMessages: 3, mqttRetainedBytes: 64 });
});

Deno.test("QoS 2 publishes are refused (5.0: DISCONNECT 0x9B; 3.1.1: closed); subscriptions granted QoS 1", async () => {
  await withNode(async (node) => {
    const v5 = await RawMqtt.connect(node.mqttPort!, {}, 5);
    await v5.publish("q/two", "x", { qos: 2, messageId: 1 });
    assert.equal((await v5.next("disconnect")).reasonCode, 0x9b);
    await v5.untilClosed();
    const v4 = await RawMqtt.connect(node.mqttPort!);
    await v4.publish("q/two", "x", { qos: 2, messageId: 1 });
    await v4.untilClosed();
    assert.equal(await metric(node, "arqon_errors_total", 'code="QOS_NOT_SUPPORTED"'), 2);
    const sub = await runTool("mosquitto_sub", [
      "-p",
      String(node.mqttPort),
      "-t",
      "q/#",
      "-q",
      "2",
      "-d",
      "-W",
      "1",
    ]);
    assert.match(sub.stdout, /Subscribed \(mid: 1\): 1/);
  }, { mqttPort: 0, memory: true });
});

Deno.test("MQTT connections count against --max-connections", async () => {
  await withNode(async (node) => {
    // Read in process: an HTTP /metrics request would take a connection itself.
    const refusals = async () => {
      const text = await node.metrics.registry.metrics();
      const line = text.split("\n").find((l) =>
        l.startsWith('arqon_limit_hits_total{limit="max_connections"}')
      );
      return line ? Number(line.split(" ")[1]) : 0;
    };
    const held = await RawMqtt.connect(node.mqttPort!);
    const refused = await RawMqtt.open(node.mqttPort!);
    await refused.untilClosed(2000);
    assert.equal(await refusals(), 1);
    held.close();
    await held.done();
    await sleep(200);
    const again = await RawMqtt.connect(node.mqttPort!);
    assert.equal(again.closed, false);
    again.close();
  }, { mqttPort: 0, memory: true, maxConnections: 1 });
});

Deno.test("shutdown: MQTT 5 clients get DISCONNECT 0x8B, the listener stops", async () => {
  const node = await startNode({ port: 0, log: "quiet", memory: true, mqttPort: 0 });
  const v5 = await RawMqtt.connect(node.mqttPort!, {}, 5);
  const v4 = await RawMqtt.connect(node.mqttPort!);
  await node.shutdown();
  assert.equal((await v5.next("disconnect")).reasonCode, 0x8b);
  await v5.untilClosed();
  await v4.untilClosed();
  await assert.rejects(RawMqtt.connect(node.mqttPort!));
});
