/**
 * MQTT end to end: a real node with `--mqtt-port 0`, Debian's `mosquitto_pub` and
 * `mosquitto_sub` on one side and raw WebSocket frames (tests/support/pb.ts) on the
 * other: payloads and topic mapping both ways, QoS 1 acknowledgements, retained messages
 * for a late subscriber, wildcards, will messages on an abnormal disconnect, keep-alive.
 */
import assert from "node:assert/strict";
import type { ArqonNode } from "../mod.ts";
import { metric, withNode } from "./support/node.ts";
import {
  deliveries,
  F,
  RawMqtt,
  runTool,
  sleep,
  Sub,
  wsClient,
  wsPublish,
  wsSubscribe,
} from "./mqtt_support.ts";

const mqttNode = (fn: (node: ArqonNode, port: string) => Promise<void>, config = {}) =>
  withNode((node) => fn(node, String(node.mqttPort)), { mqttPort: 0, memory: true, ...config });

/** Waits until the node holds `n` subscriptions (a mosquitto_sub got its SUBACK). */
async function subscriptions(node: ArqonNode, n: number): Promise<void> {
  const deadline = Date.now() + 5000;
  while (await metric(node, "arqon_subscriptions") < n) {
    if (Date.now() > deadline) throw new Error(`never ${n} subscriptions`);
    await sleep(20);
  }
}

Deno.test("mosquitto_pub -> WebSocket subscriber: topic a/b/c arrives as a.b.c, QoS 1 acked", async () => {
  await mqttNode(async (node, port) => {
    const ws = await wsClient(node.wsUrl);
    try {
      ws.send(wsSubscribe(1, "sensors.*.temp"));
      await ws.wait(F.subscribed);
      const q1 = await runTool("mosquitto_pub", [
        "-p",
        port,
        "-t",
        "sensors/kitchen/temp",
        "-m",
        "21.5",
        "-q",
        "1",
        "-d",
      ]);
      assert.equal(q1.code, 0, q1.stderr);
      assert.match(q1.stdout, /received PUBACK \(Mid: 1, RC:0\)/);
      const q0 = await runTool("mosquitto_pub", [
        "-p",
        port,
        "-t",
        "sensors/hall/temp",
        "-m",
        "19",
        "-V",
        "mqttv5",
      ]);
      assert.equal(q0.code, 0, q0.stderr);
      await ws.until(() => deliveries(ws).length === 2, "2 deliveries");
      assert.deepEqual(deliveries(ws), ["sensors.kitchen.temp 21.5", "sensors.hall.temp 19"]);
    } finally {
      await ws.close();
    }
  });
});

Deno.test("WebSocket publish -> mosquitto_sub: a.b.c arrives as a/b/c at QoS 1, # and + mapped", async () => {
  await mqttNode(async (node, port) => {
    const all = new Sub(["-p", port, "-t", "plant/#", "-q", "1", "-v", "-C", "3", "-d"]);
    const one = new Sub(["-p", port, "-t", "plant/+/state", "-v", "-C", "1"]);
    await subscriptions(node, 2);
    const ws = await wsClient(node.wsUrl);
    try {
      ws.send(wsPublish(1, "plant.line1.state", "running"));
      ws.send(wsPublish(2, "plant.line1.speed", "40"));
      ws.send(wsPublish(3, "plant.line2", "idle"));
      await ws.wait(F.ack, 3);
      const got = await all.result;
      assert.equal(got.code, 0, got.stderr);
      const lines = got.stdout.split("\n").filter((l) => l.startsWith("plant/"));
      assert.deepEqual(lines, [
        "plant/line1/state running",
        "plant/line1/speed 40",
        "plant/line2 idle",
      ]);
      // Granted QoS 1, delivered at QoS 1 with packet ids, acknowledged by mosquitto_sub.
      assert.match(got.stdout, /received SUBACK[\s\S]*Subscribed \(mid: 1\): 1/);
      assert.match(got.stdout, /received PUBLISH \(d0, q1, r0, m\d+, 'plant\/line1\/state'/);
      assert.match(got.stdout, /sending PUBACK/);
      const single = await one.result;
      assert.equal(single.stdout.trim(), "plant/line1/state running");
    } finally {
      await ws.close();
    }
  });
});

Deno.test("retained: a late mosquitto_sub gets each topic's last value; an empty retain clears it", async () => {
  await mqttNode(async (_node, port) => {
    const pub = (topic: string, message: string[]) =>
      runTool("mosquitto_pub", ["-p", port, "-t", topic, "-r", "-q", "1", ...message]);
    assert.equal((await pub("status/dev1", ["-m", "booting"])).code, 0);
    assert.equal((await pub("status/dev1", ["-m", "online"])).code, 0);
    assert.equal((await pub("status/dev2", ["-m", "offline"])).code, 0);
    const late = await runTool("mosquitto_sub", [
      "-p",
      port,
      "-t",
      "status/+",
      "-v",
      "-C",
      "2",
      "-W",
      "5",
    ]);
    assert.equal(late.code, 0, late.stderr);
    assert.deepEqual(late.stdout.trim().split("\n").sort(), [
      "status/dev1 online",
      "status/dev2 offline",
    ]);
    assert.equal((await pub("status/dev1", ["-n"])).code, 0);
    const after = await runTool("mosquitto_sub", [
      "-p",
      port,
      "-t",
      "status/+",
      "-v",
      "-C",
      "1",
      "-W",
      "3",
    ]);
    assert.equal(after.stdout.trim(), "status/dev2 offline");
  });
});

Deno.test("will: a mosquitto_sub killed with SIGKILL has its will published; a clean exit not", async () => {
  await mqttNode(async (node, port) => {
    const ws = await wsClient(node.wsUrl);
    try {
      ws.send(wsSubscribe(1, "devices.*.status"));
      await ws.wait(F.subscribed);
      const willArgs = (id: string) => [
        "--will-topic",
        `devices/${id}/status`,
        "--will-payload",
        "lost",
        "--will-qos",
        "1",
      ];
      // A clean exit (DISCONNECT) discards the will.
      const clean = await runTool("mosquitto_pub", [
        "-p",
        port,
        "-t",
        "devices/d0/status",
        "-m",
        "bye",
        ...willArgs("d0"),
      ]);
      assert.equal(clean.code, 0, clean.stderr);
      const sub = new Sub(["-p", port, "-t", "cmd/d1", ...willArgs("d1")]);
      await subscriptions(node, 2);
      sub.child.kill("SIGKILL");
      await sub.result;
      await ws.until(() => deliveries(ws).length === 2, "the will");
      assert.deepEqual(deliveries(ws), ["devices.d0.status bye", "devices.d1.status lost"]);
    } finally {
      await ws.close();
    }
  });
});

Deno.test("keep-alive: a client silent for 1.5x its keep-alive is closed and its will published", async () => {
  await mqttNode(async (node, port) => {
    const ws = await wsClient(node.wsUrl);
    try {
      ws.send(wsSubscribe(1, "devices.>"));
      await ws.wait(F.subscribed);
      const quiet = await RawMqtt.connect(Number(port), {
        keepalive: 1,
        will: { topic: "devices/quiet/status", payload: "timeout", qos: 0, retain: false },
      });
      // A client that pings stays.
      const pinging = await RawMqtt.connect(Number(port), { keepalive: 1 });
      const t0 = Date.now();
      const pinger = setInterval(() => pinging.send({ cmd: "pingreq" }), 500);
      try {
        await quiet.untilClosed(4000);
        const after = Date.now() - t0;
        assert.ok(after >= 1400, `closed after ${after} ms, before 1.5 x keep-alive`);
        await ws.until(() => deliveries(ws).length === 1, "the will");
        assert.deepEqual(deliveries(ws), ["devices.quiet.status timeout"]);
        assert.equal(await metric(node, "arqon_limit_hits_total", 'limit="mqtt_keepalive"'), 1);
        await pinging.next("pingresp");
        assert.equal(pinging.closed, false);
      } finally {
        clearInterval(pinger);
        pinging.close();
        quiet.close();
      }
    } finally {
      await ws.close();
    }
  });
});

Deno.test("invalid filters get SUBACK 0x80, an invalid publish topic closes; both counted", async () => {
  await mqttNode(async (node, port) => {
    const c = await RawMqtt.connect(Number(port));
    await c.send({
      cmd: "subscribe",
      messageId: 7,
      subscriptions: [
        { topic: "a/#/b", qos: 1 },
        { topic: "ok/+", qos: 2 },
        { topic: "Bad/x", qos: 0 },
      ],
    });
    const suback = await c.next("suback");
    // QoS 2 is granted as 1.
    assert.deepEqual(suback.granted, [0x80, 1, 0x80]);
    assert.equal(await metric(node, "arqon_errors_total", 'code="INVALID_PATTERN"'), 2);
    await c.publish("bad//topic", "x");
    await c.untilClosed();
    assert.equal(await metric(node, "arqon_errors_total", 'code="INVALID_TOPIC"'), 1);
    // Others are still served.
    const ok = await runTool("mosquitto_pub", ["-p", port, "-t", "ok/1", "-m", "x", "-q", "1"]);
    assert.equal(ok.code, 0, ok.stderr);
  });
});

Deno.test("a second connection with the same client id takes over: the first is closed, its will published", async () => {
  await mqttNode(async (node) => {
    const ws = await wsClient(node.wsUrl);
    try {
      ws.send(wsSubscribe(1, "devices.>"));
      await ws.wait(F.subscribed);
      const will = { topic: "devices/dev7/status", payload: "replaced", qos: 1, retain: false };
      const first = await RawMqtt.connect(node.mqttPort!, { clientId: "dev7", will }, 5);
      const other = await RawMqtt.connect(node.mqttPort!, { clientId: "dev8" }, 5);
      const second = await RawMqtt.connect(node.mqttPort!, { clientId: "dev7" }, 5);
      assert.equal((await first.next("disconnect")).reasonCode, 0x8e);
      await first.untilClosed();
      await ws.until(() => deliveries(ws).length === 1, "the will");
      assert.deepEqual(deliveries(ws), ["devices.dev7.status replaced"]);
      // The new connection and the other client id are served.
      for (const c of [second, other]) {
        await c.publish("devices/x/ping", "1", { qos: 1, messageId: 3 });
        assert.equal((await c.next("puback")).reasonCode, 0);
        assert.equal(c.closed, false);
        c.close();
      }
      assert.equal(await metric(node, "arqon_disconnects_total", 'reason="mqtt_takeover"'), 1);
    } finally {
      await ws.close();
    }
  });
});
