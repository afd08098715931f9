/**
 * Vector clocks (issue 14 item 1, docs/time.md): the node stamps every sequenced pulse with
 * the merge of what its producer reported it consumed and its own reality's entry. Read
 * with a raw protobuf client (its own encoder, not our codec), the TypeScript SDK (which
 * reports what it consumed by itself), an operator (whose outputs carry their input's
 * clock) and a node running `--vclock off`.
 */
import assert from "node:assert/strict";
import { ArqonClient, type IPulse } from "../mod.ts";
import { withNode } from "./support/node.ts";
import { F, msg, num, pb, type PbField, type PbMessage, str, unpb } from "./support/pb.ts";
import { RawSocket } from "./support/raw_ws.ts";
import { call } from "./support/operators.ts";

/** A raw protobuf client, welcomed. */
async function raw(url: string, name: string): Promise<RawSocket> {
  const s = await RawSocket.open(url, "arqon.v1.proto");
  s.send(pb([[F.hello, [[1, name], [2, 1]]]]));
  await s.wait(F.welcome);
  return s;
}

function subscribe(s: RawSocket, id: number, reality: string, extra: PbField[] = []): void {
  s.send(pb([[F.subscribe, [[1, id], [2, reality], [3, ">"], [12, 900 + id], ...extra]]]));
}

/** Publish{correlation_id, ack RECEIVED, pulse{topic, reality}, consumed entries}. */
function publish(
  s: RawSocket,
  correlationId: number,
  reality: string,
  topic: string,
  consumed: Record<string, number> = {},
): void {
  const entries: PbField[] = Object.entries(consumed).map(([k, v]) => [5, [[1, k], [2, v]]]);
  s.send(
    pb([[F.publish, [[1, correlationId], [2, 1], [3, [[3, topic], [5, reality]]], ...entries]]]),
  );
}

/** The vclock (field 20) of a raw pulse, as a record. */
function clockOf(pulse: PbMessage): Record<string, number> {
  const out: Record<string, number> = {};
  for (const entry of pulse.get(20) ?? []) {
    const e = unpb(entry as Uint8Array);
    out[str(e, 1)] = num(e, 2);
  }
  return out;
}

function deliveries(
  s: RawSocket,
): { topic: string; reality: string; clock: Record<string, number> }[] {
  return s.of(F.deliver).map((d) => {
    const p = msg(d, 2);
    return { topic: str(p, 3), reality: str(p, 5), clock: clockOf(p) };
  });
}

Deno.test("vclock: stamped from a raw client's consumed report plus the pulse's own entry", async () => {
  await withNode(async (node) => {
    const watcher = await raw(node.wsUrl, "watcher");
    subscribe(watcher, 1, "va");
    subscribe(watcher, 2, "vb");
    await watcher.wait(F.subscribed, 2);
    const producer = await raw(node.wsUrl, "producer");
    publish(producer, 1, "va", "x.first");
    await producer.wait(F.ack, 1);
    // Depends on va:1 and on a pulse of a reality nobody here watches.
    publish(producer, 2, "vb", "x.second", { va: 1, other: 9 });
    await producer.wait(F.ack, 2);
    await watcher.until(() => watcher.of(F.deliver).length === 2, "two deliveries");
    const [first, second] = deliveries(watcher);
    assert.deepEqual(first.clock, { va: 1 });
    assert.deepEqual(second.clock, { other: 9, va: 1, vb: 1 });
    // A report for the pulse's own reality never overrides its sequence.
    publish(producer, 3, "vb", "x.third", { vb: 500 });
    await watcher.until(() => watcher.of(F.deliver).length === 3, "third delivery");
    assert.deepEqual(deliveries(watcher)[2].clock, { vb: 2 });

    // Bad reports are refused with INVALID_ARGUMENT and cost no sequence number.
    publish(producer, 4, "vb", "x.bad", { "Not-A-Reality!": 1 });
    const tooMany: Record<string, number> = {};
    for (let i = 0; i < 65; i++) tooMany[`r${i}`] = 1;
    publish(producer, 5, "vb", "x.bad", tooMany);
    await producer.until(() => producer.of(F.error).length === 2, "two refusals");
    for (const e of producer.of(F.error)) {
      assert.equal(num(e, 1), 19, str(e, 2)); // INVALID_ARGUMENT
      assert.ok([4, 5].includes(num(e, 3)));
    }
    publish(producer, 6, "vb", "x.fourth");
    const acks = await producer.wait(F.ack, 4);
    assert.equal(num(acks[3], 3), 3, "vb's next sequence is 3: refusals took none");
    await watcher.close();
    await producer.close();
  });
});

Deno.test("vclock: the SDK reports what it consumed and its acknowledged publishes", async () => {
  await withNode(async (node) => {
    const source = await ArqonClient.connect(node.wsUrl, { name: "source" });
    const relay = await ArqonClient.connect(node.wsUrl, { name: "relay" });
    const seen: IPulse[] = [];
    const sub = relay.subscribe("in.>", { reality: "sa", onPulse: (p) => seen.push(p) });
    await sub.ready;
    const out: IPulse[] = [];
    const watch = source.subscribe("out.>", { reality: "sb", onPulse: (p) => out.push(p) });
    await watch.ready;
    const other: IPulse[] = [];
    const watchC = source.subscribe("out.>", { reality: "sc", onPulse: (p) => other.push(p) });
    await watchC.ready;
    await source.publish("in.one", "1", { reality: "sa" });
    await source.publish("in.two", "2", { reality: "sa" });
    while (seen.length < 2) await new Promise((r) => setTimeout(r, 5));
    await relay.publish("out.one", "r", { reality: "sb" });
    // Its own earlier publish (sb:1) is part of what it had seen.
    await relay.publish("out.two", "r", { reality: "sc" });
    while (out.length < 1 || other.length < 1) await new Promise((r) => setTimeout(r, 5));
    assert.deepEqual({ ...out[0].vclock }, { sa: 2, sb: 1 });
    assert.deepEqual({ ...other[0].vclock }, { sa: 2, sb: 1, sc: 1 });
    // The source consumed sb:1 and sc:1 (its deliveries): its next publish depends on them.
    await source.publish("in.three", "3", { reality: "sa" });
    while (seen.length < 3) await new Promise((r) => setTimeout(r, 5));
    assert.deepEqual({ ...seen[2].vclock }, { sa: 3, sb: 1, sc: 1 });
    await source.close();
    await relay.close();
  }, { memory: true });
});

Deno.test("vclock: an operator's output carries its input's clock; JSON clients read it", async () => {
  await withNode(async (node) => {
    const up = await call(node.url, "PUT", "/v1/operators/echoer", {
      builtin: "echo",
      inputs: ["in.>"],
      config: { to: "out.echo" },
    });
    assert.equal(up.status, 201, JSON.stringify(up.body));
    const s = await RawSocket.open(node.wsUrl, "arqon.v1.json");
    s.send(JSON.stringify({ hello: { clientName: "j", protocolVersion: 1 } }));
    s.send(JSON.stringify({ subscribe: { subscriptionId: 1, pattern: ">", correlationId: "3" } }));
    await s.until(() => s.json.some((f) => f.subscribed), "subscribed");
    s.send(JSON.stringify({
      publish: { pulse: { topic: "in.a", payload: btoa("x") }, consumed: { elsewhere: "41" } },
    }));
    const pulses = () =>
      s.json.filter((f) => f.deliver).map((f) =>
        (f.deliver as { pulse: { topic: string; vclock: Record<string, string> } }).pulse
      );
    await s.until(() => pulses().some((p) => p.topic === "out.echo"), "the operator's output");
    const input = pulses().find((p) => p.topic === "in.a")!;
    const output = pulses().find((p) => p.topic === "out.echo")!;
    assert.deepEqual(input.vclock, { default: "1", elsewhere: "41" });
    assert.deepEqual(output.vclock, { default: "2", elsewhere: "41" });
    await s.close();
  });
});

Deno.test("vclock: --vclock off stamps none", async () => {
  await withNode(async (node) => {
    const watcher = await raw(node.wsUrl, "watcher");
    subscribe(watcher, 1, "va");
    await watcher.wait(F.subscribed);
    const producer = await raw(node.wsUrl, "producer");
    publish(producer, 1, "va", "x.first", { vb: 3 });
    await watcher.wait(F.deliver);
    const d = deliveries(watcher)[0];
    assert.deepEqual(d.clock, {});
    assert.equal(d.topic, "x.first");
    await watcher.close();
    await producer.close();
  }, { vclock: "off" });
});
