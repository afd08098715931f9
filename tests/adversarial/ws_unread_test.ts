/**
 * Hostile WebSocket clients against the node's own WebSocket server: traffic the node
 * would answer (pings, bad frames) from a client that never reads, endless empty
 * continuation frames, frame headers announcing 16 MiB that never arrive. The node's
 * memory (the process's RSS) stays bounded, the hostile connection is closed with a typed
 * code and counted, and other clients keep being served.
 */
import assert from "node:assert/strict";
import { F, pb } from "../support/pb.ts";
import {
  binaryFrame,
  clientFrame,
  flood,
  mb,
  type NodeChild,
  RawTcpWs,
  sleep,
  startNodeChild,
  stillServed,
} from "./support.ts";

const MiB = 1024 * 1024;
const OVERFLOW = 'reason="outbound_overflow"';
// A high-water mark, batch and frame limit of 64 KiB: the node closes a connection that
// holds about 1.4 MB it cannot write, instead of about 13 MB with the defaults.
const SMALL_BUFFERS = [
  "--high-water-bytes",
  "65536",
  "--max-batch-bytes",
  "65536",
  "--max-frame-bytes",
  "65536",
];

/**
 * Floods `frame` from a client that does not read, until the node counts the connection
 * as over its outbound bound (or `ms` pass); then reads what the node sent, up to its
 * close frame. Returns the close code, bytes flooded and the RSS growth.
 */
async function unreadFlood(
  node: NodeChild,
  frame: Uint8Array,
  ms: number,
  pauseMs = 0,
): Promise<{ code: number | null; sent: number; grew: number }> {
  const ws = await RawTcpWs.open(node.port);
  try {
    // Greeted first, as a real client would be.
    await ws.write(binaryFrame([[F.hello, [[1, "unread"], [2, 1]]]]));
    await sleep(100);
    const before = node.rss();
    let overflowed = false;
    // Watches /metrics during the flood and, if the node has not given up on us yet, as
    // long again after it: the node still answers what it has read of the flood.
    const watch = (async () => {
      const deadline = Date.now() + 2 * ms;
      while (!overflowed && Date.now() < deadline) {
        overflowed = await node.metric("arqon_disconnects_total", OVERFLOW) > 0;
        await sleep(100);
      }
    })();
    let sent = 0;
    const deadline = Date.now() + ms;
    while (!overflowed && Date.now() < deadline) {
      const n = await flood(ws, frame, 200, Infinity, pauseMs);
      sent += n;
      if (n === 0) break; // the node closed the connection
    }
    await watch;
    const grew = node.rss() - before;
    console.log(`  overflow seen after ${Date.now() - deadline + ms} ms`);
    const { code } = await ws.readUntilClose(5000);
    return { code, sent, grew };
  } finally {
    ws.close();
  }
}

/**
 * What an unread flood must end in: the node alive, its RSS grown under 100 MiB, the
 * connection counted once as over its outbound bound and closed 1008, others served.
 */
async function assertClosedForOverflow(
  node: NodeChild,
  { code, sent, grew }: { code: number | null; sent: number; grew: number },
  label: string,
  what: string,
): Promise<void> {
  console.log(`  ${label}: RSS +${mb(grew)} after ${mb(sent)} of ${what}`);
  assert.ok(node.alive(), "the node survived");
  assert.ok(grew < 100 * MiB, `node RSS grew ${mb(grew)}`);
  assert.equal(await node.metric("arqon_disconnects_total", OVERFLOW), 1, "counted once");
  assert.equal(code, 1008, "closed as a policy violation");
  await stillServed(node.wsUrl);
}

Deno.test({
  name: "pings from a client that never reads: bounded, closed 1008 and counted",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const node = await startNodeChild(SMALL_BUFFERS);
    try {
      const ping = clientFrame(0x9, new Uint8Array(125));
      const flooded = await unreadFlood(node, ping, 20_000);
      await assertClosedForOverflow(node, flooded, "ping flood", "pings");
    } finally {
      await node.stop();
    }
  },
});

Deno.test({
  name: "bad frames from a client that never reads: error replies bounded, closed 1008",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const node = await startNodeChild(SMALL_BUFFERS);
    try {
      // A batch of 1,000 empty frames (2 bytes each): each earns an error of ~60 bytes.
      // Paced, so that the node stays responsive enough to tell when it closed us.
      const inner = new Uint8Array(2 * 1000);
      for (let i = 0; i < inner.length; i += 2) inner[i] = 0x0a; // Batch.frames, length 0
      const bad = clientFrame(0x2, pb([[F.batch, inner]]));
      const flooded = await unreadFlood(node, bad, 20_000, 1);
      await assertClosedForOverflow(node, flooded, "bad-frame flood", "bad frames");
    } finally {
      await node.stop();
    }
  },
});

Deno.test({
  name: "empty continuation frames count against the message limit: closed 1009",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    // No hello is sent: a long hello deadline, so that on a loaded machine the message
    // limit (1009), not the hello timeout (1008), is what ends the flood.
    const node = await startNodeChild(["--hello-timeout", "120"]);
    const ws = await RawTcpWs.open(node.port);
    try {
      const before = node.rss();
      await ws.write(clientFrame(0x2, new Uint8Array([1]), false)); // a message begins...
      // ...and never ends: 64 MB of empty continuations, four times the message limit.
      const sent = await flood(ws, clientFrame(0x0, new Uint8Array(0), false), 8000, 64 * MiB);
      const grew = node.rss() - before;
      console.log(`  empty continuations: RSS +${mb(grew)} after ${mb(sent)} sent`);
      assert.ok(node.alive(), "the node survived");
      assert.ok(grew < 100 * MiB, `node RSS grew ${mb(grew)}`);
      const { code } = await ws.readUntilClose(5000);
      assert.equal(code, 1009, "closed: message too big");
      await stillServed(node.wsUrl);
    } finally {
      ws.close();
      await node.stop();
    }
  },
});

Deno.test({
  name: "a frame header announcing 16 MiB allocates nothing before the body arrives",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const node = await startNodeChild();
    const conns: RawTcpWs[] = [];
    try {
      const before = node.rss();
      const dataBefore = node.vmData();
      // 60 connections each announce a 16 MiB binary frame and send 1 KB of it.
      const size = 16 * MiB;
      const head = new Uint8Array([0x82, 0x80 | 127, 0, 0, 0, 0, 1, 0, 0, 0, 1, 2, 3, 4]);
      assert.equal(size, (head[6] << 24) >>> 0);
      const part = new Uint8Array(head.length + 1024);
      part.set(head);
      for (let i = 0; i < 60; i++) {
        const ws = await RawTcpWs.open(node.port);
        conns.push(ws);
        await ws.write(part);
      }
      await sleep(500);
      const grew = node.rss() - before;
      const allocated = node.vmData() - dataBefore;
      console.log(
        `  60 announced 16 MiB frames: RSS +${mb(grew)}, data segments +${mb(allocated)}`,
      );
      assert.ok(node.alive(), "the node survived");
      assert.ok(grew < 100 * MiB, `node RSS grew ${mb(grew)}`);
      // What was allocated, touched or not: far below 60 x 16 MiB = 960 MiB.
      assert.ok(allocated < 200 * MiB, `node allocated ${mb(allocated)} for 60 KB received`);
      await stillServed(node.wsUrl);
    } finally {
      for (const c of conns) c.close();
      await node.stop();
    }
  },
});
