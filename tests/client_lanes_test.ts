/**
 * The client's share of latency lanes: a critical publish leaves in a WebSocket message of
 * its own, so the node (which schedules a received message by its first publish's lane)
 * never finds it behind bulk publishes in a shared message, nor bulk riding in its message.
 * A relay written with the platform's WebSocket API sits between the client and a real
 * node and records the client's messages as they travel; the node's deliveries to a
 * subscriber show nothing was lost or reordered within a lane. Asserts messages and order,
 * never timings.
 */
import assert from "node:assert/strict";
import { ArqonClient, decodeFrame, type IFrame, SUBPROTOCOL_PROTO } from "../mod.ts";
import { withNode } from "./support/node.ts";

/** The publishes of one client message, as [topic, lane] pairs. */
function publishesOf(data: Uint8Array): [string, number][] {
  const frame = decodeFrame(data);
  const frames: IFrame[] = frame.batch ? frame.batch.frames ?? [] : [frame];
  return frames.filter((f) => f.publish).map((f) => [
    f.publish!.pulse!.topic ?? "",
    f.publish!.pulse!.lane ?? 0,
  ]);
}

/** A WebSocket relay to `target` recording every binary message the client sends. */
function relay(target: string) {
  const seen: Uint8Array[] = [];
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, (req) => {
    const { socket, response } = Deno.upgradeWebSocket(req, { protocol: SUBPROTOCOL_PROTO });
    socket.binaryType = "arraybuffer";
    const upstream = new WebSocket(target, [SUBPROTOCOL_PROTO]);
    upstream.binaryType = "arraybuffer";
    const early: ArrayBuffer[] = [];
    upstream.onopen = () => early.splice(0).forEach((m) => upstream.send(m));
    upstream.onmessage = (e) => socket.readyState === WebSocket.OPEN && socket.send(e.data);
    upstream.onclose = () => socket.readyState === WebSocket.OPEN && socket.close();
    socket.onmessage = (e) => {
      seen.push(new Uint8Array(e.data as ArrayBuffer));
      if (upstream.readyState === WebSocket.OPEN) upstream.send(e.data);
      else early.push(e.data as ArrayBuffer);
    };
    socket.onclose = () => upstream.close();
    return response;
  });
  return { url: `ws://127.0.0.1:${server.addr.port}/v1/ws`, seen, server };
}

Deno.test("client lanes: a critical publish leaves alone, between the bulk messages around it", async () => {
  await withNode(async (node) => {
    const tap = relay(node.wsUrl);
    const sub = await ArqonClient.connect(node.wsUrl, { name: "lanes-sub" });
    const pub = await ArqonClient.connect(tap.url, { name: "lanes-pub" });
    try {
      const got: [string, number][] = [];
      let done!: () => void;
      const all = new Promise<void>((r) => done = r);
      const s = sub.subscribe("cl.>", {
        onPulse: (p) => {
          got.push([p.topic!, 0]);
          if (got.length === 7) done();
        },
      });
      await s.ready;
      const before = tap.seen.length;
      // One turn: three bulk, one critical, three bulk.
      for (let i = 0; i < 3; i++) {
        pub.publish(`cl.bulk.${i}`, "b", { ack: "none", pulse: { lane: 3 } });
      }
      pub.publish("cl.critical", "c", { ack: "none", pulse: { lane: 2 } });
      for (let i = 3; i < 6; i++) {
        pub.publish(`cl.bulk.${i}`, "b", { ack: "none", pulse: { lane: 3 } });
      }
      await pub.flush();
      await all;
      const sent = tap.seen.slice(before).map(publishesOf).filter((p) => p.length > 0);
      assert.deepEqual(sent, [
        [["cl.bulk.0", 3], ["cl.bulk.1", 3], ["cl.bulk.2", 3]],
        [["cl.critical", 2]],
        [["cl.bulk.3", 3], ["cl.bulk.4", 3], ["cl.bulk.5", 3]],
      ]);
      // Every pulse arrived once; the bulk ones in their order.
      assert.deepEqual(got.filter(([t]) => t === "cl.critical").length, 1);
      assert.deepEqual(
        got.map(([t]) => t).filter((t) => t.startsWith("cl.bulk.")),
        [0, 1, 2, 3, 4, 5].map((i) => `cl.bulk.${i}`),
      );
    } finally {
      await pub.close();
      await sub.close();
      await tap.server.shutdown();
    }
  });
});

Deno.test("client lanes: publishes of one lane still share a message", async () => {
  await withNode(async (node) => {
    const tap = relay(node.wsUrl);
    const pub = await ArqonClient.connect(tap.url, { name: "lanes-batch" });
    try {
      const before = tap.seen.length;
      for (let i = 0; i < 4; i++) {
        pub.publish(`cb.c.${i}`, "c", { ack: "none", pulse: { lane: 2 } });
      }
      for (let i = 0; i < 4; i++) pub.publish(`cb.n.${i}`, "n", { ack: "none" });
      await pub.flush();
      const sent = tap.seen.slice(before).map(publishesOf).filter((p) => p.length > 0);
      assert.deepEqual(sent.map((m) => m.length), [4, 4]);
      assert.deepEqual(sent[0].map(([, lane]) => lane), [2, 2, 2, 2]);
    } finally {
      await pub.close();
      await tap.server.shutdown();
    }
  });
});
