/**
 * The node reads a publish's pulse with its own reader (runtime/protocol/pulse_read.ts),
 * not protobufjs, on the hot path. A raw TCP client (length-prefixed frames written by
 * hand, not our SDK) sends what such a reader gets wrong most easily: fields repeated
 * (protobuf keeps the last one, for routing as for the ack), pulses and publish frames
 * cut short, and a varint cut off at the end. Repeated fields are routed and acknowledged
 * by their last value; cut frames get typed errors naming the publish where it can be
 * read, and the connection goes on being served in order.
 */
import assert from "node:assert/strict";
import { concat, F, msg, num, pb, type PbField, str } from "../support/pb.ts";
import { RawTcp } from "../support/raw_tcp.ts";
import { withNode } from "../support/node.ts";

const enc = new TextEncoder();
const hello = (name: string) => pb([[F.hello, [[1, name], [2, 1]]]]);
/** Frame{publish{correlation_id, ack: ACK_MODE_RECEIVED, pulse}} around raw pulse bytes. */
const publish = (corr: number, pulse: Uint8Array) =>
  pb([[F.publish, [[1, corr], [2, 1], [3, pulse]]]]);
const raw = (...bytes: number[]) => Uint8Array.from(bytes);
const ERROR_CODE_INVALID_FRAME = 1;

Deno.test("publish fields: repeated fields route and ack by their last value; cut pulses are typed errors", async () => {
  await withNode(async (node) => {
    const sub = await RawTcp.open(node.tcpUrl!);
    await sub.send(hello("fields-sub"));
    await sub.wait(F.welcome);
    // One subscription per reality: `default` and `rb`, every topic under dup.
    await sub.send(pb([[F.subscribe, [[1, 1], [3, "dup.>"], [12, 1]]]]));
    await sub.send(pb([[F.subscribe, [[1, 2], [2, "rb"], [3, "dup.>"], [12, 2]]]]));
    await sub.wait(F.subscribed, 2);
    const pub = await RawTcp.open(node.tcpUrl!);
    await pub.send(hello("fields-pub"));
    await pub.wait(F.welcome);

    const topic = (t: string) => pb([[3, t]]);
    const payload = (p: string) => pb([[11, enc.encode(p)]]);
    // Valid pulses with repeated fields: the last topic, reality, payload and lane count.
    await pub.send(publish(1, concat(topic("dup.first"), payload("p1"), topic("dup.second"))));
    await pub.send(publish(2, concat(pb([[5, "ra"]]), topic("dup.reality"), pb([[5, "rb"]]))));
    await pub.send(publish(3, concat(topic("dup.payload"), payload("one"), payload("two"))));
    await pub.send(publish(4, concat(topic("dup.lane"), raw(0x98, 0x01, 3, 0x98, 0x01, 1))));
    // A publish carrying its pulse field twice: the last pulse is the one published.
    await pub.send(
      pb([[F.publish, [[1, 5], [2, 1], [3, topic("dup.not")], [3, topic("dup.two")]]]]),
    );
    // Cut short: a topic announcing 10 bytes where 3 remain, a varint (the lane) with no
    // last byte, a payload length with no bytes after it.
    await pub.send(publish(6, raw(0x1a, 0x0a, 0x61, 0x62, 0x63)));
    await pub.send(publish(7, concat(topic("dup.cut"), raw(0x98, 0x01, 0x80))));
    await pub.send(publish(8, concat(topic("dup.cut"), raw(0x5a, 0x05))));
    // A batch of a good publish, a cut one and a good one: each answered on its own.
    const batch = pb([[F.batch, [
      [1, publish(9, topic("dup.batch.a"))],
      [1, publish(10, raw(0x1a, 0x7f, 0x61))],
      [1, publish(11, topic("dup.batch.b"))],
    ] as PbField[]]]);
    await pub.send(batch);
    // A publish frame whose pulse runs past the frame's end: the frame cannot be read.
    await pub.send(raw(0x1a, 0x08, 0x08, 12, 0x10, 1, 0x1a, 0x50, 0x61, 0x62));
    await pub.send(pb([[F.ping, [[1, 77]]]]));
    await pub.until(() => pub.of(F.pong).length === 1, "the pong after everything");

    const acks = new Map(pub.of(F.ack).map((a) => [num(a, 1), a]));
    const errors = pub.of(F.error);
    assert.deepEqual([...acks.keys()].sort((a, b) => a - b), [1, 2, 3, 4, 5, 9, 11], "acked");
    assert.equal(str(acks.get(2)!, 4), "rb", "the last reality id is the pulse's");
    assert.equal(str(acks.get(1)!, 4), "default");
    // Typed errors: the three cut pulses and the cut batch member with their correlation
    // ids, and the unreadable frame without one.
    const byCorr = new Map(errors.map((e) => [num(e, 3), e]));
    for (const c of [6, 7, 8, 10, 0]) {
      const e = byCorr.get(c);
      assert.ok(e, `an error for correlation id ${c}: ${errors.map((x) => str(x, 2))}`);
      assert.equal(num(e, 1), ERROR_CODE_INVALID_FRAME, `${c}: ${str(e, 2)}`);
    }
    assert.equal(errors.length, 5, errors.map((e) => str(e, 2)).join("; "));
    assert.equal(num(pub.of(F.pong)[0], 1), 77, "served on after the bad frames");

    // Deliveries: routed by the last topic and reality, the bytes carrying the last values.
    await sub.until(() => sub.of(F.deliver).length === 7, "seven deliveries");
    // In order per subscription (the two subscriptions' deliveries may interleave).
    const of = (id: number) =>
      sub.of(F.deliver).filter((d) => num(d, 1) === id).map((d) => msg(d, 2));
    const inDefault = of(1);
    assert.deepEqual(inDefault.map((p) => str(p, 3)), [
      "dup.second",
      "dup.payload",
      "dup.lane",
      "dup.two",
      "dup.batch.a",
      "dup.batch.b",
    ]);
    assert.deepEqual(of(2).map((p) => str(p, 3)), ["dup.reality"]);
    assert.equal(str(inDefault[0], 11), "p1");
    assert.equal(str(inDefault[1], 11), "two", "the last payload");
    assert.equal(num(inDefault[2], 19), 1, "the last lane");
    // Sequences per reality: no gaps, refused publishes took none.
    assert.deepEqual(inDefault.map((p) => num(p, 2)), [1, 2, 3, 4, 5, 6]);
    assert.equal(num(of(2)[0], 2), 1);
    sub.close();
    pub.close();
  }, { tcpPort: 0 });
});
