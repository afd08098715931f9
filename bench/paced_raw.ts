/**
 * A paced 1→1 load with raw-socket clients that cost next to nothing, for profiling what a
 * server spends per pulse at a fixed rate (what `deno task bench`'s latency runs measure,
 * without a JavaScript client's own cost or starvation in the figure): one connection
 * publishes 1 KB pulses on 1 ms timer ticks (whatever the schedule says is due, in one
 * write: a batch of publishes for the node's raw TCP port, `PUB` lines for nats-server's),
 * another subscribes and counts deliveries. Prints `{published, delivered, ticks}`.
 *
 *   deno run -A bench/paced_raw.ts <arqon|nats> <host:port> <rate> <seconds>
 * @module
 */
import { BatchBuilder, encodeFrame, encodePublishFrame } from "../runtime/protocol/mod.ts";
import { concat, lengthPrefixed, readUntil } from "./support.ts";

const TOPIC = "bench.load.data";
const PAYLOAD = 1024;
const MAX_PER_MESSAGE = 256;
const enc = new TextEncoder();

const [kind, hostPort, rateArg, secondsArg] = Deno.args;
const rate = Number(rateArg);
const seconds = Number(secondsArg);
const [hostname, port] = [hostPort.split(":")[0], Number(hostPort.split(":")[1])];
const open = () => Deno.connect({ hostname, port });
// Messages of n pulses, built once each.
const messages = new Map<number, Uint8Array>();
let message: (n: number) => Uint8Array;
// Bytes one delivery takes on the subscriber's connection (counted by bytes: cheap).
let deliverySize: number;
const sub = await open();
const pub = await open();
if (kind === "arqon") {
  const hello = lengthPrefixed(encodeFrame({ hello: { clientName: "paced", protocolVersion: 1 } }));
  const publish = encodePublishFrame(0, 0, { topic: TOPIC, payload: new Uint8Array(PAYLOAD) })!;
  message = (n) => {
    const b = new BatchBuilder();
    for (let i = 0; i < n; i++) b.addFrame(publish);
    return lengthPrefixed(b.finish());
  };
  await sub.write(hello);
  await sub.write(
    lengthPrefixed(encodeFrame({ subscribe: { subscriptionId: 1, pattern: TOPIC } })),
  );
  await sub.write(lengthPrefixed(encodeFrame({ ping: { nonce: 1 } })));
  // The pong (Frame.pong, key 0x6a) says the subscription is in place.
  const buf = new Uint8Array(4096);
  for (let seen = false; !seen;) {
    const n = await sub.read(buf);
    if (n === null) throw new Error("closed before the pong");
    for (let i = 0; i + 4 < n; i++) if (buf[i + 4] === 0x6a) seen = true;
  }
  await pub.write(hello);
  // Not exact per delivery (batched deliveries differ by a few bytes): calibrated below.
  deliverySize = 0;
} else {
  const hello = enc.encode(`CONNECT {"verbose":false,"pedantic":false}\r\n`);
  const one = concat(enc.encode(`PUB ${TOPIC} ${PAYLOAD}\r\n`), new Uint8Array(PAYLOAD + 2));
  one.set([13, 10], one.length - 2);
  message = (n) => {
    const m = new Uint8Array(one.length * n);
    for (let i = 0; i < n; i++) m.set(one, i * one.length);
    return m;
  };
  await readUntil(sub, "INFO");
  await sub.write(concat(hello, enc.encode(`SUB ${TOPIC} 1\r\nPING\r\n`)));
  await readUntil(sub, "PONG");
  await readUntil(pub, "INFO");
  await pub.write(hello);
  deliverySize = `MSG ${TOPIC} 1 ${PAYLOAD}\r\n`.length + PAYLOAD + 2;
}
let received = 0;
const reading = (async () => {
  const buf = new Uint8Array(256 * 1024);
  while (true) {
    const n = await sub.read(buf).catch(() => null);
    if (n === null) return;
    received += n;
  }
})();
const start = performance.now();
const end = start + seconds * 1000;
let due = 0;
let ticks = 0;
while (performance.now() < end) {
  const target = Math.floor(((performance.now() - start) / 1000) * rate);
  if (target > due) ticks++;
  // A late tick's pulses go in messages of at most MAX_PER_MESSAGE (under the frame limit).
  while (target > due) {
    const n = Math.min(target - due, MAX_PER_MESSAGE);
    let m = messages.get(n);
    if (!m) messages.set(n, m = message(n));
    for (let w = 0; w < m.length;) w += await pub.write(m.subarray(w));
    due += n;
  }
  await new Promise((r) => setTimeout(r, 1));
}
await new Promise((r) => setTimeout(r, 300));
pub.close();
sub.close();
await reading;
// A node delivery is its pulse's encoding plus a stamp: about 1.1 KB; report bytes too.
console.log(JSON.stringify({
  published: due,
  ticks,
  receivedBytes: received,
  delivered: deliverySize ? Math.floor(received / deliverySize) : null,
}));
Deno.exit(0);
