/**
 * Ingress under a flood, end to end over raw WebSocket frames. The node's own WebSocket
 * server reads a connection only as fast as it handles it (TCP backpressure): nothing
 * queues. With Deno's built-in server, which cannot stop reading, a reality's work queues
 * in its own lane of the fair scheduler and a full lane sheds publishes with
 * RATE_LIMITED, never losing one silently once acknowledged.
 */
import assert from "node:assert/strict";
import { F, num, pb, type PbField, type PbMessage, str, unpb } from "./support/pb.ts";
import { RawSocket } from "./support/raw_ws.ts";
import { metric, withNode } from "./support/node.ts";

const PROTO = "arqon.v1.proto";
const ERROR_RATE_LIMITED = 13;
const hello = (name: string) => pb([[F.hello, [[1, name], [2, 1]]]]);
const subscribe = (id: number, reality: string, pattern: string) =>
  pb([[F.subscribe, [[1, id], [2, reality], [3, pattern], [12, id]]]]);
const publish = (corr: number, ack: number, reality: string, topic: string, payload: Uint8Array) =>
  pb([[F.publish, [[1, corr], [2, ack], [3, [[3, topic], [5, reality], [11, payload]]]]]]);
const batch = (frames: Uint8Array[]) => pb([[F.batch, frames.map((f) => [1, f] as PbField)]]);

/** One message of `n` 1 KB publishes (acknowledged when `ack`), correlation ids from `first`. */
function burst(reality: string, first: number, n: number, ack: number): Uint8Array {
  const frames: Uint8Array[] = [];
  for (let i = 0; i < n; i++) {
    const payload = new Uint8Array(1024).fill((first + i) & 0xff);
    frames.push(publish(first + i, ack, reality, "load.data", payload));
  }
  return batch(frames);
}

async function connect(url: string, name: string): Promise<RawSocket> {
  const s = await RawSocket.open(url, PROTO);
  s.send(hello(name));
  await s.wait(F.welcome);
  return s;
}

/** The pulses delivered to `s`, decoded with the test's own protobuf reader. */
function deliveredPulses(s: RawSocket): PbMessage[] {
  return s.of(F.deliver).map((d) => unpb(d.get(2)![0] as Uint8Array));
}

Deno.test("arqon engine: two flooding connections are read on demand; nothing queued, shed or lost", async () => {
  await withNode(async (node) => {
    const watcher = await connect(node.wsUrl, "watcher");
    watcher.send(subscribe(1, "storm", "load.>"));
    watcher.send(subscribe(2, "calm", "load.>"));
    await watcher.wait(F.subscribed, 2);
    // Two connections flood one reality; the node reads each as it handles what it read.
    const storms = [await connect(node.wsUrl, "storm-a"), await connect(node.wsUrl, "storm-b")];
    const calm = await connect(node.wsUrl, "calm");
    const messages = 40;
    for (let m = 0; m < messages; m++) {
      storms[m % 2].send(burst("storm", m * 32 + 1, 32, 0));
    }
    for (let i = 1; i <= 5; i++) {
      calm.send(publish(i, 1, "calm", "load.data", new Uint8Array([i])));
      await calm.wait(F.ack, i);
    }
    await watcher.until(() => watcher.of(F.deliver).length === messages * 32 + 5, "every pulse");
    const storm = deliveredPulses(watcher).filter((p) => str(p, 5) === "storm");
    assert.deepEqual(
      storm.map((p) => num(p, 2)),
      Array.from({ length: messages * 32 }, (_, i) => i + 1),
    );
    // Per-producer order: each connection's payloads arrive in the order it sent them.
    for (const [k, name] of ["storm-a", "storm-b"].entries()) {
      const mine = storm.filter((p) => str(p, 4) === name).map((p) =>
        (p.get(11)![0] as Uint8Array)[0]
      );
      const sent: number[] = [];
      for (let m = k; m < messages; m += 2) {
        for (let i = 0; i < 32; i++) sent.push((m * 32 + 1 + i) & 0xff);
      }
      assert.deepEqual(mine, sent);
    }
    // Backpressure, not queueing: nothing waited in a lane, nothing was shed.
    assert.equal(await metric(node, "arqon_ingress_deferred_total"), 0);
    assert.equal(await metric(node, "arqon_ingress_shed_total"), 0);
    for (const s of [watcher, ...storms, calm]) await s.close();
  }, { fairQuantumUs: 1, memory: true });
});

Deno.test("deno engine: a flooding reality queues in its own lane; a quiet one never waits", async () => {
  await withNode(async (node) => {
    const watcher = await connect(node.wsUrl, "watcher");
    watcher.send(subscribe(1, "storm", "load.>"));
    watcher.send(subscribe(2, "calm", "load.>"));
    await watcher.wait(F.subscribed, 2);
    const storm = await connect(node.wsUrl, "storm");
    const calm = await connect(node.wsUrl, "calm");
    // 40 messages of 32 pulses (32 KB each) in one go: far over a 1 µs share per turn.
    const messages = 40;
    for (let m = 0; m < messages; m++) storm.send(burst("storm", m * 32 + 1, 32, 0));
    // Meanwhile the quiet reality publishes one acknowledged pulse at a time.
    for (let i = 1; i <= 5; i++) {
      calm.send(publish(i, 1, "calm", "load.data", new Uint8Array([i])));
      await calm.wait(F.ack, i);
    }
    await watcher.until(() => watcher.of(F.deliver).length === messages * 32 + 5, "every pulse");
    const pulses = deliveredPulses(watcher);
    const stormSeqs = pulses.filter((p) => str(p, 5) === "storm").map((p) => num(p, 2));
    assert.deepEqual(stormSeqs, Array.from({ length: messages * 32 }, (_, i) => i + 1));
    // Per-producer order: payload bytes follow the order the storm sent them in.
    const firstBytes = pulses.filter((p) => str(p, 5) === "storm").map((p) =>
      (p.get(11)![0] as Uint8Array)[0]
    );
    assert.deepEqual(firstBytes, Array.from({ length: messages * 32 }, (_, i) => (i + 1) & 0xff));
    assert.ok(
      await metric(node, "arqon_ingress_deferred_total", 'reality="storm"') > 0,
      "the storm had to queue",
    );
    assert.equal(await metric(node, "arqon_ingress_deferred_total", 'reality="calm"'), 0);
    assert.equal(await metric(node, "arqon_ingress_shed_total"), 0);
    for (const s of [watcher, storm, calm]) await s.close();
  }, { fairQuantumUs: 1, memory: true, wsEngine: "deno" });
});

Deno.test("deno engine: a full lane sheds publishes: acked ones get RATE_LIMITED, the rest are counted", async () => {
  await withNode(async (node) => {
    const watcher = await connect(node.wsUrl, "watcher");
    watcher.send(subscribe(1, "storm", "load.>"));
    await watcher.wait(F.subscribed);
    const storm = await connect(node.wsUrl, "storm");
    // 100 messages of 32 acknowledged pulses against a 64 KB lane served 1 µs a turn.
    const messages = 100;
    for (let m = 0; m < messages; m++) storm.send(burst("storm", m * 32 + 1, 32, 1));
    const total = messages * 32;
    await storm.until(
      () => storm.of(F.ack).length + storm.of(F.error).length >= total,
      "an answer to every publish",
      20_000,
    );
    const acks = storm.of(F.ack);
    const errors = storm.of(F.error);
    assert.ok(errors.length > 0, "some publishes were shed");
    assert.ok(acks.length > 0, "some publishes were taken");
    assert.ok(errors.every((e) => num(e, 1) === ERROR_RATE_LIMITED), "every refusal is typed");
    assert.match(str(errors[0], 2), /fair share/);
    // Every correlation id answered exactly once.
    const answered = [...acks.map((a) => num(a, 1)), ...errors.map((e) => num(e, 3))];
    assert.deepEqual(
      answered.sort((a, b) => a - b),
      Array.from({ length: total }, (_, i) => i + 1),
    );
    // What was acknowledged is exactly what subscribers got, gapless in sequence.
    await watcher.until(() => watcher.of(F.deliver).length === acks.length, "acked pulses");
    const seqs = deliveredPulses(watcher).map((p) => num(p, 2));
    assert.deepEqual(seqs, Array.from({ length: acks.length }, (_, i) => i + 1));
    assert.deepEqual(
      acks.map((a) => num(a, 3)).sort((a, b) => a - b),
      seqs,
    );
    assert.equal(await metric(node, "arqon_ingress_shed_total", 'reality="storm"'), errors.length);
    // The node is still healthy and serves other realities.
    const calm = await connect(node.wsUrl, "calm");
    calm.send(publish(1, 1, "calm", "load.data", new Uint8Array([1])));
    await calm.wait(F.ack);
    for (const s of [watcher, storm, calm]) await s.close();
  }, { fairQuantumUs: 1, realityQueueBytes: 64 * 1024, memory: true, wsEngine: "deno" });
});
