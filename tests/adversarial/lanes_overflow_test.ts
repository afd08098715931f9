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
const CRITICAL = 600; // 100 past the critical lane's bound

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
      const chunk: Uint8Array[] = [];
      for (let i = 0; i < CRITICAL; i++) {
        chunk.push(lanePublish("flood.alert", `c${i}`, 2, i === CRITICAL - 1 ? 1 : 0));
      }
      await pub.write(new Uint8Array(chunk.flatMap((c) => [...c])));
      // The last critical publish is acknowledged once routed.
      const answered = await pub.readUntilClose(3000, true);
      assert.ok(
        answered.binary.some((b) => frames(b).some(([k]) => k === F.ack)),
        "the critical publishes were taken",
      );
      const after = node.rss();
      console.log(`  RSS ${mb(before)} -> ${mb(after)} after ${mb(sent)} of bulk`);
      assert.ok(sent >= 16 * 1024 * 1024, `the flood was real (${mb(sent)})`);
      assert.ok(after - before < 150 * 1024 * 1024, `RSS grew ${mb(after - before)}`);

      const dropped = (lane: string) =>
        node.metric("arqon_lane_deliveries_dropped_total", `lane="${lane}"`);
      assert.ok(await dropped("bulk") > 0, "bulk pulses were dropped");
      assert.equal(await dropped("critical"), CRITICAL - QUEUE_MESSAGES, "critical: its own bound");
      assert.equal(await dropped("normal"), 0, "the normal lane was untouched");

      // The subscriber reads at last: the critical pulses its lane kept, oldest dropped.
      const got: string[] = [];
      for (const b of (await sub.readUntilClose(4000, true)).binary) {
        for (const [kind, m] of frames(b)) {
          if (kind !== F.deliver) continue;
          const payload = str(msg(m, 2), 11);
          if (payload.startsWith("c")) got.push(payload);
        }
      }
      const expected = Array.from(
        { length: QUEUE_MESSAGES },
        (_, i) => `c${i + CRITICAL - QUEUE_MESSAGES}`,
      );
      assert.deepEqual(got, expected, "every critical pulse within the bound, in order");
      assert.ok(node.alive());
      await stillServed(node.wsUrl);
    } finally {
      pub?.close();
      sub?.close();
      await node.stop();
    }
  },
});
