/**
 * A node client in a separate Deno process over shared memory (used by the end-to-end
 * test). Same arguments and output as `native/c/shm_pubsub.c`:
 *
 *   deno run -A shm_peer.ts <shm-name> <pattern> <topic> <count> <seed> <peer-seed>
 * @module
 */
import { decodeFrame, encodeFrame, type IFrame } from "../../protocol/mod.ts";
import { ShmClient } from "../shm_client.ts";

const [name, pattern, topic, countArg, seedArg, peerSeedArg] = Deno.args;
const count = Number(countArg);
const seed = Number(seedArg) >>> 0;
const peerSeed = Number(peerSeedArg) >>> 0;
const mix = (i: number, s: number) => (Math.imul(i, 2654435761) + s) >>> 0;

let received = 0;
let checksum = 0;
const subscribed = Promise.withResolvers<void>();
const finished = Promise.withResolvers<void>();

function fail(what: string): never {
  console.log(`fail ${what} (received=${received})`);
  Deno.exit(1);
}

function onFrame(frame: IFrame): void {
  if (frame.batch) {
    for (const inner of frame.batch.frames ?? []) onFrame(inner);
  } else if (frame.deliver) {
    if (frame.deliver.subscriptionId !== 1) fail("delivery for an unknown subscription");
    const p = frame.deliver.pulse?.payload;
    if (!p || p.length !== 8) fail("payload is not 8 bytes");
    const v = new DataView(p.buffer, p.byteOffset, 8);
    const idx = v.getUint32(0, true);
    const sum = v.getUint32(4, true);
    if (idx !== received) fail(`delivery out of order: ${idx} after ${received}`);
    if (sum !== mix(idx, peerSeed)) fail("payload checksum mismatch");
    received++;
    checksum = (checksum + sum) >>> 0;
    if (received === count) finished.resolve();
  } else if (frame.subscribed) {
    subscribed.resolve();
  } else if (frame.error) {
    fail(`node sent an Error frame: ${frame.error.message}`);
  }
}

const client = ShmClient.connect(name);
client.onFrame = (bytes) => onFrame(decodeFrame(bytes));
client.closed.then(() => {
  if (received < count) fail("node closed the connection");
});
client.send(encodeFrame({ subscribe: { subscriptionId: 1, pattern, correlationId: 1 } }));
await subscribed.promise;
console.log("ready");
const reader = Deno.stdin.readable.getReader();
await reader.read();
reader.releaseLock();

for (let i = 0; i < count; i++) {
  const payload = new Uint8Array(8);
  const v = new DataView(payload.buffer);
  v.setUint32(0, i, true);
  v.setUint32(4, mix(i, seed), true);
  client.send(encodeFrame({ publish: { pulse: { topic, payload } } }));
  // Yield now and then so the receive loop runs and back-pressure is honoured.
  if (i % 256 === 255) {
    await new Promise((r) => setTimeout(r, 0));
    while (client.bufferedAmount() > 1 << 20) await new Promise((r) => setTimeout(r, 1));
  }
}
const timer = setTimeout(() => {
  console.log(`timeout receiving: ${received} of ${count}`);
  Deno.exit(2);
}, 60_000);
await finished.promise;
clearTimeout(timer);
console.log(`done sent=${count} received=${received} checksum=${checksum}`);
await client.close();
