/**
 * Each latency lane has its own queue bounds: a bulk flood into a subscriber that does
 * not read drops bulk pulses (counted under lane="bulk") while the critical pulses that
 * fit their own bound all survive, in order; critical pulses driven past that bound drop
 * their own oldest (lane="critical"). The node's RSS stays bounded and others are served.
 * A node child process, raw TCP WebSocket clients with hand-built frames.
 */
import assert from "node:assert/strict";
import { F, frames, msg, type PbField, str } from "../support/pb.ts";
import { binaryFrame, flood, mb, RawTcpWs, sleep, startNodeChild, stillServed } from "./support.ts";

const QUEUE_MESSAGES = 500;
const BIG = 1500; // critical pulses of 16 KiB: past the lane's 500 pulses and 4 MiB

function lanePublish(topic: string, payload: Uint8Array | string, lane: number, ack = 0) {
  const pulse: PbField[] = [[3, topic], [11, payload], [19, lane]];
  return binaryFrame([[F.publish, [[1, ack ? 1 : 0], [2, ack], [3, pulse]]]]);
}

Deno.test({
  name: "lanes: a bulk flood overflows only the bulk lane; critical keeps its own bound",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const node = await startNodeChild([
      "--queue-messages",
      String(QUEUE_MESSAGES),
      "--queue-bytes",
      String(4 * 1024 * 1024),
    ]);
    let sub: RawTcpWs | null = null;
    let pub: RawTcpWs | null = null;
    try {
      sub = await RawTcpWs.open(node.port);
      await sub.write(binaryFrame([[F.hello, [[1, "silent"], [2, 1]]]]));
      await sub.write(binaryFrame([[F.subscribe, [[1, 1], [3, "flood.>"]]]]));
      pub = await RawTcpWs.open(node.port);
      await pub.write(binaryFrame([[F.hello, [[1, "flooder"], [2, 1]]]]));
      await sleep(300);
      const before = node.rss();
      // Bulk, 16 KiB each, for 3 s: tens to hundreds of MB against a 4 MiB, 500-pulse bound.
      const sent = await flood(pub, lanePublish("flood.bulk", new Uint8Array(16 * 1024), 3), 3000);
      const sendCritical = async (tag: string, n: number, size: number) => {
        const frames: Uint8Array[] = [];
        for (let i = 0; i < n; i++) {
          const payload = new Uint8Array(size).fill(0x2e);
          payload.set(new TextEncoder().encode(`${tag}${i} `));
          frames.push(lanePublish("flood.alert", payload, 2, i === n - 1 ? 1 : 0));
        }
        const all = new Uint8Array(frames.reduce((k, f) => k + f.length, 0));
        let at = 0;
        for (const f of frames) {
          all.set(f, at);
          at += f.length;
        }
        await pub!.write(all);
      };
      const dropped = (lane: string) =>
        node.metric("arqon_lane_deliveries_dropped_total", `lane="${lane}"`);
      // 1) A few small critical pulses after the flood: all kept, none dropped.
      await sendCritical("c", 100, 100);
      await sleep(500);
      assert.ok(await dropped("bulk") > 0, "bulk pulses were dropped");
      assert.equal(await dropped("critical"), 0, "the critical lane did not overflow");
      assert.equal(await dropped("normal"), 0, "the normal lane was untouched");
      // 2) Critical driven past its own bound (500 pulses, 4 MiB): 1,500 of 16 KiB.
      await sendCritical("C", BIG, 16 * 1024);
      // The last one is acknowledged once routed (the only ack this connection asked for
      // before: the first batch's; read both now).
      const answered = await pub.readUntilClose(3000, true);
      const acks = answered.binary.flatMap((b) => frames(b).filter(([k]) => k === F.ack));
      assert.equal(acks.length, 2, "both critical batches were taken");
      const after = node.rss();
      console.log(`  RSS ${mb(before)} -> ${mb(after)} after ${mb(sent)} of bulk`);
      assert.ok(sent >= 16 * 1024 * 1024, `the flood was real (${mb(sent)})`);
      assert.ok(after - before < 150 * 1024 * 1024, `RSS grew ${mb(after - before)}`);
      const criticalDrops = await dropped("critical");
      assert.ok(criticalDrops > 0, "the critical lane overflowed by its own bound");

      // The subscriber reads at last.
      const small: number[] = [];
      const big: number[] = [];
      for (const b of (await sub.readUntilClose(6000, true)).binary) {
        for (const [kind, m] of frames(b)) {
          if (kind !== F.deliver) continue;
          const tag = str(msg(m, 2), 11).split(" ")[0];
          if (tag.startsWith("c")) small.push(Number(tag.slice(1)));
          if (tag.startsWith("C")) big.push(Number(tag.slice(1)));
        }
      }
      assert.deepEqual(small, Array.from({ length: 100 }, (_, i) => i), "all small ones, in order");
      // Written before the stall (a prefix), then what the lane kept (its newest): in
      // order, and every one either delivered or counted as dropped.
      assert.deepEqual(big, [...big].sort((a, b) => a - b), "in order");
      assert.equal(big.length + criticalDrops, BIG, "each delivered or counted");
      const gap = big.findIndex((v, i) => v !== i);
      if (gap >= 0) {
        const kept = big.slice(gap);
        assert.deepEqual(kept, kept.map((_, i) => BIG - kept.length + i), "the newest were kept");
      }
      console.log(`  critical: ${big.length} of ${BIG} delivered, ${criticalDrops} dropped`);
      assert.ok(node.alive());
      await stillServed(node.wsUrl);
    } finally {
      pub?.close();
      sub?.close();
      await node.stop();
    }
  },
});
