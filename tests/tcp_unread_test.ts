/**
 * Raw TCP clients that never read, against a node child process (its RSS its own): a TCP
 * connection is a session like a WebSocket one, so its subscribers stop being written at
 * the high-water mark and their queues drop by their bound (or disconnect with
 * SLOW_CONSUMER, as on WebSocket); a client asking for answers (pings) it never reads is
 * cut off past the outbound bound. Memory stays bounded and other clients are served.
 */
import assert from "node:assert/strict";
import { F, num, pb, type PbField } from "./support/pb.ts";
import { RawTcp } from "./support/raw_tcp.ts";
import { metricAt, NodeChild } from "./adversarial/edge_support.ts";
import { flood, mb, publishFrame, RawTcpWs, sleep } from "./adversarial/support.ts";

const MiB = 1024 * 1024;
const PAYLOAD = 16 * 1024;
const hello = (name: string) => pb([[F.hello, [[1, name], [2, 1]]]]);
const subscribe = (id: number, pattern: string, extra: PbField[] = []) =>
  pb([[F.subscribe, [[1, id], [3, pattern], [12, id], ...extra]]]);
const SMALL = [
  "--queue-messages",
  "2000",
  "--queue-bytes",
  "2097152",
  "--high-water-bytes",
  "65536",
];

function tcpUrlOf(node: NodeChild): string {
  return node.banner.match(/raw tcp listening on (tcp:\/\/\S+)/)![1];
}

async function servedOverTcp(url: string): Promise<void> {
  const c = await RawTcp.open(url);
  try {
    await c.send(hello("calm"));
    await c.wait(F.welcome);
    await c.send(pb([[F.ping, [[1, 77]]]]));
    assert.equal(num((await c.wait(F.pong))[0], 1), 77);
  } finally {
    c.close();
  }
}

Deno.test({
  name: "TCP subscribers that never read keep node memory within its queue bounds (RSS)",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const node = await NodeChild.start(["--tcp-port", "0", ...SMALL]);
    const url = tcpUrlOf(node);
    const silent: RawTcp[] = [];
    let pub: RawTcpWs | null = null;
    try {
      for (let i = 0; i < 4; i++) {
        const c = await RawTcp.open(url, { read: false });
        await c.send(hello(`silent-${i}`));
        await c.send(subscribe(1, "flood.>"));
        silent.push(c);
      }
      await sleep(500);
      assert.equal(await metricAt(node.url, "arqon_subscriptions"), 4);
      const before = node.rss();
      pub = await RawTcpWs.open(node.port);
      const sent = await flood(
        pub,
        publishFrame("flood.x", new Uint8Array(PAYLOAD)),
        20_000,
        128 * MiB,
      );
      const after = node.rss();
      console.log(`  RSS ${mb(before)} -> ${mb(after)} after ${mb(sent)} flooded`);
      assert.ok(sent >= 64 * MiB, `the flood was real (${mb(sent)})`);
      assert.ok(after - before < 150 * MiB, `node RSS grew ${mb(after - before)}`);
      assert.ok(
        await metricAt(node.url, "arqon_deliveries_dropped_total", 'reason="drop_oldest"') > 0,
        "the silent subscribers' queues dropped by their bound",
      );
      assert.ok(await metricAt(node.url, "arqon_transport_stalls_total", 'transport="tcp"') > 0);
      await servedOverTcp(url);
    } finally {
      pub?.close();
      for (const s of silent) s.close();
      await node.stop();
    }
  },
});

Deno.test({
  name: "TCP subscriber with the disconnect policy that never reads: SLOW_CONSUMER, then closed",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const node = await NodeChild.start(["--tcp-port", "0", ...SMALL]);
    const url = tcpUrlOf(node);
    let pub: RawTcpWs | null = null;
    const c = await RawTcp.open(url, { read: false });
    try {
      await c.send(hello("slow"));
      await c.send(subscribe(1, "flood.>", [[9, 3]])); // OVERFLOW_POLICY_DISCONNECT
      await sleep(300);
      pub = await RawTcpWs.open(node.port);
      const frame = publishFrame("flood.x", new Uint8Array(PAYLOAD));
      const deadline = Date.now() + 20_000;
      while (Date.now() < deadline) {
        await flood(pub, frame, 200, Infinity);
        if (await metricAt(node.url, "arqon_disconnects_total", 'reason="slow_consumer"') > 0) {
          break;
        }
      }
      assert.equal(
        await metricAt(node.url, "arqon_disconnects_total", 'reason="slow_consumer"'),
        1,
        "disconnected once as a slow consumer",
      );
      // Now read what the node wrote before it closed: the SLOW_CONSUMER notice is last.
      await c.closed;
      const errors = c.of(F.error);
      assert.ok(errors.some((e) => num(e, 1) === 8), "SLOW_CONSUMER error frame before the close");
      await servedOverTcp(url);
    } finally {
      pub?.close();
      c.close();
      await node.stop();
    }
  },
});

Deno.test({
  name: "pings over TCP from a client that never reads: cut off past the outbound bound, counted",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const node = await NodeChild.start([
      "--tcp-port",
      "0",
      "--high-water-bytes",
      "65536",
      "--max-batch-bytes",
      "65536",
      "--max-frame-bytes",
      "65536",
    ]);
    const url = tcpUrlOf(node);
    const c = await RawTcp.open(url, { read: false });
    try {
      await c.send(hello("pinger"));
      const one = pb([[F.ping, [[1, 1]]]]);
      const framed = new Uint8Array(4 + one.length);
      new DataView(framed.buffer).setUint32(0, one.length);
      framed.set(one, 4);
      const per = Math.floor(64 * 1024 / framed.length);
      const chunk = new Uint8Array(per * framed.length);
      for (let i = 0; i < per; i++) chunk.set(framed, i * framed.length);
      const before = node.rss();
      const overflowed = () =>
        metricAt(node.url, "arqon_disconnects_total", 'reason="outbound_overflow"');
      let sent = 0;
      const deadline = Date.now() + 20_000;
      const writing = (async () => {
        try {
          while (Date.now() < deadline) {
            await c.write(chunk);
            sent += chunk.length;
          }
        } catch { /* the node cut us off */ }
      })();
      while (Date.now() < deadline && await overflowed() === 0) await sleep(100);
      c.close();
      await writing;
      const grew = node.rss() - before;
      console.log(`  RSS +${mb(grew)} after ${mb(sent)} of pings`);
      assert.equal(await overflowed(), 1, "cut off once, counted");
      assert.ok(grew < 100 * MiB, `node RSS grew ${mb(grew)}`);
      await servedOverTcp(url);
    } finally {
      c.close();
      await node.stop();
    }
  },
});
