/**
 * The raw JetStream peer of the cluster bench's cross-node line, with the same client library
 * (nats.js v3): one connection publishes 1 KB messages on server 1 into a stream (plain
 * publishes, the last of each group of 64 a `js.publish` whose ack keeps the publisher within
 * what the stream stores, as the ArqonBus line does), and one ordered consumer on each of
 * servers 2 and 3 receives every message. Prints one JSON line: messages/s delivered on each
 * receiver, p50/p99 publish-to-delivery latency.
 *
 *   deno run -A bench/cluster/raw_xnode.ts <url1,url2,url3> <stream> <file|memory> <replicas>
 *     <seconds> <window>
 * @module
 */
import { connect } from "@nats-io/transport-node";
import { jetstream, jetstreamManager, StorageType } from "@nats-io/jetstream";

const [urls, stream, storage, replicas, seconds, window] = Deno.args;
const [u1, u2, u3] = urls.split(",");
const SECONDS = Number(seconds ?? 5);
const WINDOW = Number(window ?? 2048);
const GROUP = 64;

const pubNc = await connect({ servers: u1 });
const jsm = await jetstreamManager(pubNc);
await jsm.streams.add({
  name: stream,
  subjects: [`${stream}.>`],
  storage: storage === "memory" ? StorageType.Memory : StorageType.File,
  num_replicas: Number(replicas ?? 3),
});
const js = jetstream(pubNc);
const subject = `${stream}.x`;

const counts = [0, 0];
const latencies: number[] = [];
const receivers = [];
for (const [i, url] of [u2, u3].entries()) {
  const nc = await connect({ servers: url });
  const consumer = await jetstream(nc).consumers.get(stream);
  const messages = await consumer.consume({
    callback: (m) => {
      counts[i]++;
      if (i === 0 && (counts[0] & 15) === 0) {
        latencies.push(
          performance.now() - new DataView(m.data.buffer, m.data.byteOffset).getFloat64(0),
        );
      }
    },
  });
  receivers.push({ nc, messages });
}
await js.publish(subject, new Uint8Array(8)); // warm: the stream has a leader
await new Promise((r) => setTimeout(r, 300));
counts[0] = counts[1] = 0;

const payload = new Uint8Array(1024);
const view = new DataView(payload.buffer);
let published = 0;
let outstanding = 0;
let wake: (() => void) | null = null;
const t0 = performance.now();
const end = t0 + SECONDS * 1000;
while (performance.now() < end) {
  while (outstanding < WINDOW / GROUP) {
    outstanding++;
    for (let i = 1; i < GROUP; i++) {
      view.setFloat64(0, performance.now());
      pubNc.publish(subject, payload.slice());
    }
    view.setFloat64(0, performance.now());
    published += GROUP;
    js.publish(subject, payload.slice()).finally(() => {
      outstanding--;
      wake?.();
    });
  }
  await new Promise<void>((r) => (wake = r));
}
const deadline = performance.now() + 20_000;
while ((counts[0] < published || counts[1] < published) && performance.now() < deadline) {
  await new Promise((r) => setTimeout(r, 20));
}
const elapsed = (performance.now() - t0) / 1000;
latencies.sort((a, b) => a - b);
console.log(JSON.stringify({
  published,
  delivered: counts,
  perSecond: counts.map((c) => Math.round(c / elapsed)),
  p50: latencies[Math.floor(latencies.length * 0.5)] ?? null,
  p99: latencies[Math.floor(latencies.length * 0.99)] ?? null,
}));
for (const r of receivers) {
  r.messages.stop();
  await r.nc.close();
}
await jsm.streams.delete(stream);
await pubNc.close();
