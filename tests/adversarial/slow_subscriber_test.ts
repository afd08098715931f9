/**
 * A subscriber that never reads, fed by a flood: the node's memory stays bounded by the
 * subscription's queue limits (read from the node process's RSS, not from drop counts),
 * and other clients keep being served.
 */
import assert from "node:assert/strict";
import {
  flood,
  mb,
  type NodeChild,
  publishFrame,
  RawTcpWs,
  silentSubscriber,
  sleep,
  startNodeChild,
  stillServed,
} from "./support.ts";

// 16 KB pulses: a flood of hundreds of megabytes in a second or two, even on a busy machine.
const PAYLOAD = 16 * 1024;

/**
 * Floods `node` from `pub` while its subscribers do not read; asserts the node lived, its
 * RSS grew under 150 MB from `before` over a real flood (64 MB or more) and drops were
 * counted.
 */
async function floodAndCheck(
  node: NodeChild,
  pub: RawTcpWs,
  before: number,
  label: string,
  drops: string,
): Promise<void> {
  // 96 MiB, for at most 30 s: a loaded machine floods slower, not less (6 s gave 29 MB at
  // load 20).
  const frame = publishFrame("flood.x", new Uint8Array(PAYLOAD));
  const sent = await flood(pub, frame, 30_000, 96 * 1024 * 1024);
  const after = node.rss();
  console.log(`  ${label}: RSS ${mb(before)} -> ${mb(after)} after ${mb(sent)} flooded`);
  assert.ok(node.alive(), "the node survived");
  assert.ok(
    after - before < 150 * 1024 * 1024,
    `node RSS grew ${mb(after - before)} (${mb(before)} -> ${mb(after)})`,
  );
  assert.ok(sent >= 64 * 1024 * 1024, `the flood was real (${mb(sent)})`);
  assert.ok(
    await node.metric("arqon_deliveries_dropped_total", 'reason="drop_oldest"') > 0,
    drops,
  );
}

Deno.test({
  name: "a subscriber that never reads keeps node memory within its queue bounds",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    // 2,000 deliveries / 2 MiB per subscription: a tight, known bound.
    const node = await startNodeChild(["--queue-messages", "2000", "--queue-bytes", "2097152"]);
    const silent: RawTcpWs[] = [];
    let pub: RawTcpWs | null = null;
    try {
      for (let i = 0; i < 4; i++) silent.push(await silentSubscriber(node.port, "flood.>"));
      await sleep(300);
      // Four queues of at most 2 MiB (plus the pulse objects): far below 150 MB.
      const before = node.rss();
      pub = await RawTcpWs.open(node.port);
      await floodAndCheck(node, pub, before, "slow subscriber", "drops counted");
      await stillServed(node.wsUrl);
    } finally {
      pub?.close();
      for (const s of silent) s.close();
      await node.stop();
    }
  },
});

Deno.test({
  name: "client-chosen queue bounds of 2^32-1 are capped at the node's (RSS)",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const node = await startNodeChild(["--queue-messages", "2000", "--queue-bytes", "2097152"]);
    let silent: RawTcpWs | null = null;
    let pub: RawTcpWs | null = null;
    try {
      const huge = 2 ** 32 - 1;
      // max_queue_messages (10) and max_queue_bytes (11) as large as the wire allows.
      silent = await silentSubscriber(node.port, "flood.>", [[10, huge], [11, huge]]);
      await sleep(300);
      const before = node.rss();
      pub = await RawTcpWs.open(node.port);
      await floodAndCheck(
        node,
        pub,
        before,
        "2^32-1 bounds",
        "the node's bound applied: drops counted",
      );
      await stillServed(node.wsUrl);
    } finally {
      pub?.close();
      silent?.close();
      await node.stop();
    }
  },
});
