/**
 * Hostile MQTT input over real sockets: random bytes before and after CONNECT, malformed
 * packets of every type, a SUBSCRIBE past the subscription quota. The node answers with
 * MQTT-level refusals or closes the connection, counts it, and keeps serving others.
 */
import assert from "node:assert/strict";
import type { ArqonNode } from "../mod.ts";
import { metric, withNode } from "./support/node.ts";
import { RawMqtt, runTool, sleep } from "./mqtt_support.ts";

/** A small deterministic generator: failures replay with the same bytes. */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function randomBytes(rand: () => number, n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.floor(rand() * 256);
  return out;
}

/** A packet of `type` with a well-formed fixed header and a random body. */
function randomPacket(rand: () => number, type: number): Uint8Array {
  const len = Math.floor(rand() * 100);
  return new Uint8Array([(type << 4) | Math.floor(rand() * 16), len, ...randomBytes(rand, len)]);
}

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

/** Sends bytes, then waits until the node closed the connection or `ms` passed. */
async function throwAt(c: RawMqtt, bytes: Uint8Array, ms = 300): Promise<void> {
  try {
    await c.write(bytes);
  } catch { /* the node already closed it */ }
  const deadline = Date.now() + ms;
  while (!c.closed && Date.now() < deadline) await sleep(10);
  c.close();
}

Deno.test("random bytes and malformed packets, before and after CONNECT: closed, counted, node serves", async () => {
  await withNode(async (node) => {
    const rand = lcg(0x5eed);
    // Before CONNECT: anything else closes at once.
    for (let i = 0; i < 20; i++) {
      const c = await RawMqtt.open(node.mqttPort!);
      await throwAt(c, randomBytes(rand, 1 + Math.floor(rand() * 200)));
    }
    // A CONNECT header with a garbage body.
    for (let i = 0; i < 20; i++) {
      const c = await RawMqtt.open(node.mqttPort!);
      await throwAt(c, randomPacket(rand, 1));
      assert.ok(c.closed, "a malformed CONNECT is closed");
    }
    // After a good CONNECT: malformed packets of each type a client may send, and others.
    for (let type = 1; type <= 15; type++) {
      for (let i = 0; i < 4; i++) {
        const c = await RawMqtt.connect(node.mqttPort!);
        await throwAt(c, randomPacket(rand, type));
      }
    }
    const invalid = await metric(node, "arqon_errors_total", 'code="INVALID_FRAME"');
    const violations = await metric(node, "arqon_errors_total", 'code="PROTOCOL_VIOLATION"');
    assert.ok(invalid + violations >= 40, `counted: ${invalid} + ${violations}`);
    await sleep(200);
    // Every hostile connection was released.
    assert.equal(await metric(node, "arqon_connections", 'transport="mqtt"'), 0);
    await stillServed(node);
  }, { mqttPort: 0, memory: true });
});

Deno.test("a SUBSCRIBE past --max-subscriptions: granted up to the quota, 0x80 beyond", async () => {
  await withNode(async (node) => {
    const c = await RawMqtt.connect(node.mqttPort!);
    const subscriptions = Array.from(
      { length: 8 },
      (_, i) => ({ topic: `t/${i}`, qos: 0 as const }),
    );
    await c.send({ cmd: "subscribe", messageId: 1, subscriptions });
    const suback = await c.next("suback");
    assert.deepEqual(suback.granted, [0, 0, 0, 0, 0, 0x80, 0x80, 0x80]);
    assert.equal(await metric(node, "arqon_errors_total", 'code="TOO_MANY_SUBSCRIPTIONS"'), 3);
    // Unsubscribing frees room: the same filter again is granted.
    await c.send({ cmd: "unsubscribe", messageId: 2, unsubscriptions: ["t/0"] });
    await c.next("unsuback");
    await c.send({ cmd: "subscribe", messageId: 3, subscriptions: [{ topic: "t/5", qos: 1 }] });
    assert.deepEqual((await c.next("suback")).granted, [1]);
    c.close();
    await stillServed(node);
  }, { mqttPort: 0, memory: true, maxSubscriptionsPerConnection: 5 });
});
