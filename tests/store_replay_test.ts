/**
 * History over WebSocket (`history.get`), subscriptions that start from a sequence or a
 * time and switch to live delivery while publishers keep publishing, and the client
 * resuming a broken subscription from its last seen sequence across a node restart.
 */
import assert from "node:assert/strict";
import { ArqonClient, type ArqonNode, type IPulse, startNode } from "../mod.ts";

const KEEP_ALL = { retention: [{ pattern: ">" }] };

async function until(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function withNode(
  fn: (node: ArqonNode, dir: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "arqon-replay-" });
  const node = await startNode({ port: 0, dataDir: dir, log: "quiet" });
  try {
    await fn(node, dir);
  } finally {
    await node.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
}

const text = (p: IPulse) => new TextDecoder().decode(p.payload);

Deno.test("replay: history.get over WebSocket filters, bounds and pages in order", async () => {
  await withNode(async (node) => {
    node.store.createReality("h", KEEP_ALL);
    const client = await ArqonClient.connect(node.wsUrl, { name: "h" });
    try {
      const acks = [];
      for (let i = 1; i <= 3000; i++) {
        acks.push(client.publish(i % 2 ? "odd.n" : "even.n", `p${i}`, {
          reality: "h",
          ack: "durable",
          // ~1 KB so the answer spans several HistoryChunk frames
          headers: { pad: "x".repeat(1000) },
        }));
      }
      await Promise.all(acks);
      const all = await client.history({ reality: "h" });
      assert.deepEqual(all.map((p) => p.sequence), Array.from({ length: 3000 }, (_, i) => i + 1));
      assert.deepEqual(all.map(text).slice(0, 3), ["p1", "p2", "p3"]);
      const even = await client.history({
        reality: "h",
        pattern: "even.*",
        fromSequence: 101,
        limit: 5,
      });
      assert.deepEqual(even.map((p) => p.sequence), [102, 104, 106, 108, 110]);
      const wall = all[499].timestamp!.wallMs!;
      const byTime = await client.history({ reality: "h", fromTimeMs: wall, toTimeMs: wall });
      assert.ok(byTime.length >= 1 && byTime.every((p) => p.timestamp!.wallMs === wall));
      assert.ok(byTime.some((p) => p.sequence === 500));
      await assert.rejects(client.history({ reality: "nope" }), /no reality nope/);
      const grouped = client.subscribe("odd.*", { reality: "h", queueGroup: "g", fromSequence: 1 });
      await assert.rejects(grouped.ready, /not supported for queue groups/);
      await assert.rejects(
        client.history({ reality: "h", pattern: "a..b" }),
        /invalid topic pattern/,
      );
    } finally {
      await client.close();
    }
  });
});

Deno.test("replay: from_sequence switches to live with no gap and no duplicate under load", async () => {
  await withNode(async (node) => {
    node.store.createReality("r", KEEP_ALL);
    const publisher = await ArqonClient.connect(node.wsUrl, { name: "pub" });
    const readers: ArqonClient[] = [];
    try {
      const TOTAL = 6000;
      const got: number[][] = [];
      let published = 0;
      const publishing = (async () => {
        while (published < TOTAL) {
          const acks = [];
          for (let i = 0; i < 100; i++) {
            acks.push(publisher.publish("r.data", `n${++published}`, { reality: "r" }));
          }
          await Promise.all(acks);
          await new Promise((r) => setTimeout(r, 1));
        }
      })();
      // Subscribers join at different points while the publisher keeps going.
      for (const joinAt of [500, 2000, 4000]) {
        await until(`publish ${joinAt}`, () => published >= joinAt);
        const reader = await ArqonClient.connect(node.wsUrl, { name: `r${joinAt}` });
        readers.push(reader);
        const seqs: number[] = [];
        got.push(seqs);
        const sub = reader.subscribe("r.>", {
          reality: "r",
          fromSequence: 1,
          // One subscriber is flow-controlled: replay and live both honour its credits.
          maxInFlight: joinAt === 2000 ? 16 : 0,
          onPulse: (p) => seqs.push(p.sequence!),
        });
        await sub.ready;
      }
      await publishing;
      for (const seqs of got) {
        await until("all deliveries", () => seqs.length >= TOTAL);
        assert.deepEqual(seqs, Array.from({ length: TOTAL }, (_, i) => i + 1));
      }
    } finally {
      await publisher.close();
      for (const r of readers) await r.close();
    }
  });
});

Deno.test("replay: from_time starts at the first pulse at or after that time", async () => {
  await withNode(async (node) => {
    node.store.createReality("t", KEEP_ALL);
    const client = await ArqonClient.connect(node.wsUrl, { name: "t" });
    try {
      for (let i = 1; i <= 20; i++) {
        await client.publish("t.x", `m${i}`, { reality: "t", ack: "durable" });
        if (i === 10) await new Promise((r) => setTimeout(r, 5));
      }
      const stored = await client.history({ reality: "t" });
      const from = stored[10].timestamp!.wallMs!; // sequence 11, at least 5 ms after 10
      const seqs: number[] = [];
      const sub = client.subscribe("t.*", {
        reality: "t",
        fromTimeMs: from,
        onPulse: (p) => seqs.push(p.sequence!),
      });
      await sub.ready;
      await client.publish("t.x", "live", { reality: "t", ack: "durable" });
      await until("replay and live", () => seqs.length >= 11);
      assert.deepEqual(seqs, Array.from({ length: 11 }, (_, i) => i + 11));
    } finally {
      await client.close();
    }
  });
});

Deno.test("replay: the client resumes a broken subscription from its last sequence", async () => {
  const dir = await Deno.makeTempDir({ prefix: "arqon-resume-" });
  let node = await startNode({ port: 0, dataDir: dir, log: "quiet" });
  const port = node.port;
  node.store.createReality("z", KEEP_ALL);
  const reader = await ArqonClient.connect(node.wsUrl, { name: "reader", reconnectDelayMs: 50 });
  const seqs: number[] = [];
  try {
    const sub = reader.subscribe("z.>", { reality: "z", onPulse: (p) => seqs.push(p.sequence!) });
    await sub.ready;
    let writer = await ArqonClient.connect(node.wsUrl, { name: "w1", reconnect: false });
    for (let i = 1; i <= 10; i++) {
      await writer.publish("z.a", `a${i}`, { reality: "z", ack: "durable" });
    }
    await until("first ten", () => seqs.length >= 10);
    await writer.close();
    await node.shutdown();

    node = await startNode({ port, dataDir: dir, log: "quiet" });
    writer = await ArqonClient.connect(node.wsUrl, { name: "w2", reconnect: false });
    // Published while the reader is (probably) still reconnecting: replayed on resume.
    for (let i = 11; i <= 30; i++) {
      await writer.publish("z.a", `a${i}`, { reality: "z", ack: "durable" });
    }
    await until("reconnect", () => reader.reconnects >= 1);
    await sub.ready;
    await writer.publish("z.a", "a31", { reality: "z", ack: "durable" });
    await until("all after resume", () => seqs.length >= 31);
    assert.deepEqual(seqs, Array.from({ length: 31 }, (_, i) => i + 1));
    await writer.close();
  } finally {
    await reader.close();
    await node.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});
