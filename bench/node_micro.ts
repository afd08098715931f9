/**
 * The node's CPU cost per pulse without sockets: a publisher session receives batches of
 * 1 KB publishes through an in-memory transport and one subscriber session drains them.
 * Run: deno run -A bench/node_micro.ts
 * @module
 */
import { BatchBuilder, encodeFrame, encodePublishFrame, startNode } from "../mod.ts";
import { MemoryTransport } from "../runtime/transport/mod.ts";

const dataDir = Deno.args[1] ?? "";
const node = await startNode({ port: 0, log: "quiet", dataDir });
const subT = new MemoryTransport({ keep: false });
const sub = node.attach(subT, "proto");
sub.receive(encodeFrame({ subscribe: { subscriptionId: 1, pattern: "bench.>" } }));
const pubT = new MemoryTransport({ keep: false });
const pub = node.attach(pubT, "proto");
const payload = new Uint8Array(1024);
const b = new BatchBuilder();
for (let i = 0; i < 256; i++) {
  b.addFrame(encodePublishFrame(0, 0, { topic: "bench.load.data", payload })!);
}
const batch = b.finish();
const rounds = Number(Deno.args[0] ?? 2000);
for (let i = 0; i < 200; i++) {
  pub.receive(batch);
  await Promise.resolve();
}
const t0 = performance.now();
for (let i = 0; i < rounds; i++) {
  pub.receive(batch);
  await Promise.resolve(); // let the subscriber's flush run, as the event loop would
}
const ms = performance.now() - t0;
const pulses = rounds * 256;
console.log(
  `${(ms * 1000 / pulses).toFixed(3)} µs/pulse in the node (${
    Math.round(pulses / ms * 1000).toLocaleString()
  } pulses/s on one core), ${subT.messages} outbound messages`,
);
await node.shutdown();
