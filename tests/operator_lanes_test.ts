/**
 * Latency lanes at an operator's inputs, end to end: a real node on port 0, an operator
 * installed over HTTP (fetch), and clients writing raw protobuf frames (tests/support/pb.ts,
 * not the node's codec). A flood of bulk inputs backs up behind the operator's Worker; a
 * critical input sequenced after all of them (its ack's sequence says so) must be handled
 * before the bulk inputs still queued, which the order of the operator's outputs shows. Two
 * mechanisms do it (the subscription's lane queues and the runner's lane passes); with both
 * turned off this test fails. Asserts sequences, order and counts, never timings.
 * @module
 */
import assert from "node:assert/strict";
import { F, msg, num, pb, type PbField, str } from "./support/pb.ts";
import { RawSocket } from "./support/raw_ws.ts";
import { withNode } from "./support/node.ts";

/** A publish frame of `tag` on `topic` in `lane` (2 critical, 3 bulk); acknowledged if `ack`. */
function publish(correlationId: number, topic: string, tag: string, lane: number, ack = 0) {
  const pulse: PbField[] = [[3, topic], [11, tag], [19, lane]];
  return [F.publish, [[1, correlationId], [2, ack], [3, pulse]]] as PbField;
}

/** The payloads of the deliveries received so far, in order. */
function outputs(s: RawSocket): string[] {
  return s.of(F.deliver).map((m) => new TextDecoder().decode(msg(m, 2).get(11)?.[0] as Uint8Array));
}

Deno.test({
  name: "lanes: an operator takes a critical input ahead of the bulk inputs queued before it",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    withNode(async (node) => {
      const put = await fetch(`${node.url}/v1/operators/copy`, {
        method: "PUT",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ builtin: "echo", inputs: ["work.>"], config: { to: "out.copy" } }),
      });
      assert.equal(put.status, 201, await put.text());
      const sub = await RawSocket.open(node.wsUrl, "arqon.v1.proto");
      const bulkPub = await RawSocket.open(node.wsUrl, "arqon.v1.proto");
      const pub = await RawSocket.open(node.wsUrl, "arqon.v1.proto");
      try {
        sub.send(pb([[F.hello, [[1, "reader"], [2, 1]]]]));
        await sub.wait(F.welcome);
        sub.send(pb([[F.subscribe, [[1, 1], [3, "out.copy"]]]]));
        await sub.wait(F.subscribed);
        bulkPub.send(pb([[F.hello, [[1, "flooder"], [2, 1]]]]));
        pub.send(pb([[F.hello, [[1, "alerter"], [2, 1]]]]));
        await bulkPub.wait(F.welcome);
        await pub.wait(F.welcome);
        // Far more bulk inputs than the operator handles while they arrive (the Worker takes a
        // few tens of thousands per second, the node sequences publishes several times
        // faster). The last one is acknowledged: once its ack is back, every bulk input is
        // sequenced and those not yet handled wait in the operator's input queue.
        const BULK = 20_000;
        for (let i = 0; i < BULK; i += 200) {
          const frames: PbField[] = [];
          for (let k = i; k < i + 200; k++) {
            frames.push(publish(k + 1, "work.bulk", `b${k}`, 3, k === BULK - 1 ? 1 : 0));
          }
          // One WebSocket message of 200 publishes: a Batch of Frames.
          bulkPub.send(pb([[F.batch, frames.map((f): PbField => [1, [f]])]]));
        }
        await bulkPub.until(() => bulkPub.of(F.ack).length === 1, "the last bulk ack", 30_000);
        // From another connection, so it meets the bulk inputs nowhere but in that queue.
        pub.send(pb([publish(7, "work.alert", "c0", 2, 1)]));
        await pub.until(() => pub.of(F.ack).length === 1, "the critical publish's ack", 30_000);
        // Sequenced after every bulk input: the overtaking below happened past sequencing.
        const bulkSeq = num(bulkPub.of(F.ack)[0], 3);
        const critSeq = num(pub.of(F.ack)[0], 3);
        console.log(`  last bulk sequence ${bulkSeq}, critical ${critSeq}`);
        assert.ok(critSeq > bulkSeq, "the critical input was sequenced after the bulk ones");
        const refusals = [...bulkPub.of(F.error), ...pub.of(F.error)].map((e) => str(e, 2));
        assert.deepEqual(refusals, [], "no refusals");
        await sub.until(() => sub.of(F.deliver).length === BULK + 1, "every output", 120_000);
        const got = outputs(sub);
        const at = got.indexOf("c0");
        const bulk = got.filter((t) => t !== "c0").map((t) => Number(t.slice(1)));
        assert.deepEqual(bulk, bulk.map((_, i) => i), "bulk outputs in order, none missing");
        // Handled in sequence order the critical input's output would come last.
        const overtaken = got.length - 1 - at;
        console.log(`  the critical output came after ${at} bulk outputs, before ${overtaken}`);
        assert.ok(overtaken > 0, "the critical input overtook bulk inputs queued before it");
      } finally {
        await pub.close();
        await bulkPub.close();
        await sub.close();
      }
    }, { memory: true }),
});
