/**
 * Load generator for `bench/node_bench.ts`, run as its own process(es) so the bus under
 * test and the clients never share an event loop. Roles:
 *
 *   sub <arqon|nats> <url> <connections>          count deliveries; print rate JSON on stdin EOF
 *   pub <arqon|nats> <url> <seconds>              publish 1 KB pulses as fast as the bus takes them
 *   latency <arqon|nats> <url> <rate> <seconds>   1→1 in one process at a fixed rate: p50/p99
 *
 * `sub` and `pub` also report the CPU time their own process spent (`cpuUs`, user + system,
 * from ready to the end), so the clients' cost per pulse can be compared too.
 * @module
 */
import type { NatsConnection } from "nats";
import process from "node:process";
import { ArqonClient } from "../mod.ts";

const [role, target, url, arg1, arg2] = Deno.args;
const PAYLOAD = 1024;
const TOPIC = "bench.load.data";

/** A bus under test, reduced to what the load needs. */
interface Bus {
  subscribe(onMessage: (payload: Uint8Array) => void): Promise<void>;
  publish(payload: Uint8Array): void;
  /** Bounds the client's outbound buffer the way the client library intends. */
  pace(): Promise<void>;
  close(): Promise<void>;
}

/**
 * The same publisher pacing for both peers, as `nats bench` does it: a flush round trip
 * (ping/pong, "the server has processed everything before") per MiB published, with up to
 * `WINDOW` round trips in flight while the next MiBs are written.
 */
class FlushPacer {
  static readonly WINDOW = Number(Deno.env.get("BENCH_FLUSH_WINDOW") ?? 2);
  #unflushed = 0;
  #inFlight: Promise<void>[] = [];
  readonly #flush: () => Promise<void>;
  constructor(flush: () => Promise<void>) {
    this.#flush = flush;
  }
  published(bytes: number): void {
    this.#unflushed += bytes;
  }
  async pace(): Promise<void> {
    if (this.#unflushed < 1024 * 1024) return;
    this.#unflushed = 0;
    this.#inFlight.push(this.#flush());
    if (this.#inFlight.length >= FlushPacer.WINDOW) await this.#inFlight.shift();
  }
}

async function arqonBus(): Promise<Bus> {
  const pub = await ArqonClient.connect(url, { name: "bench", noDelay: true });
  const subs: ArqonClient[] = [];
  const pacer = new FlushPacer(() => pub.flush());
  return {
    async subscribe(onMessage) {
      const c = await ArqonClient.connect(url, { name: `bench-sub-${subs.length}`, noDelay: true });
      subs.push(c);
      const s = c.subscribe(TOPIC, { onPulse: (p) => onMessage(p.payload!) });
      await s.ready;
    },
    publish(payload) {
      pub.publish(TOPIC, payload, { ack: "none" });
      pacer.published(PAYLOAD);
    },
    pace: () => pacer.pace(),
    async close() {
      await pub.close();
      for (const c of subs) await c.close();
    },
  };
}

async function natsBus(): Promise<Bus> {
  // Loaded only for the nats runs, so the arqon runs load nothing of it.
  const { connect: natsConnect } = await import("nats");
  const pub = await natsConnect({ servers: url });
  const subs: NatsConnection[] = [];
  const pacer = new FlushPacer(() => pub.flush());
  return {
    async subscribe(onMessage) {
      const c = await natsConnect({ servers: url });
      subs.push(c);
      c.subscribe(TOPIC, { callback: (_err, m) => onMessage(m.data) });
      await c.flush();
    },
    publish(payload) {
      pub.publish(TOPIC, payload);
      pacer.published(PAYLOAD);
    },
    pace: () => pacer.pace(),
    async close() {
      await pub.close();
      for (const c of subs) await c.close();
    },
  };
}

const bus = target === "nats" ? await natsBus() : await arqonBus();
/** CPU time this process has used, µs (user + system). */
const cpuUs = () => {
  const u = process.cpuUsage();
  return u.user + u.system;
};
const payload = new Uint8Array(PAYLOAD);
const view = new DataView(payload.buffer);

if (role === "sub") {
  // Count arrivals in 100 ms buckets from the first one; the orchestrator reads the steady rate.
  const buckets: number[] = [];
  let first = 0;
  for (let i = 0; i < Number(arg1); i++) {
    await bus.subscribe(() => {
      const now = performance.now();
      if (first === 0) first = now;
      const b = Math.floor((now - first) / 100);
      buckets[b] = (buckets[b] ?? 0) + 1;
    });
  }
  console.log("ready");
  const cpu0 = cpuUs();
  // The orchestrator closes our stdin when the publisher is done.
  for await (const _ of Deno.stdin.readable) { /* wait for EOF */ }
  console.log(
    JSON.stringify({ buckets: Array.from(buckets, (b) => b ?? 0), cpuUs: cpuUs() - cpu0 }),
  );
} else if (role === "pub") {
  const end = performance.now() + Number(arg1) * 1000;
  const cpu0 = cpuUs();
  let sent = 0;
  while (performance.now() < end) {
    for (let i = 0; i < 256; i++) bus.publish(payload);
    sent += 256;
    await bus.pace();
  }
  console.log(JSON.stringify({ sent, cpuUs: cpuUs() - cpu0 }));
} else {
  const rate = Number(arg1);
  const seconds = Number(arg2);
  const latencies: number[] = [];
  let measuring = false;
  await bus.subscribe((p) => {
    if (!measuring) return;
    const sentAt = new DataView(p.buffer, p.byteOffset, p.byteLength).getFloat64(0, true);
    latencies.push(performance.now() - sentAt);
  });
  const start = performance.now();
  const warmup = 1000;
  const end = start + warmup + seconds * 1000;
  let due = 0;
  while (performance.now() < end) {
    const now = performance.now();
    measuring = now >= start + warmup;
    // Publish whatever the schedule says is due, then sleep to the next millisecond.
    const target = Math.floor(((now - start) / 1000) * rate);
    for (; due < target; due++) {
      view.setFloat64(0, performance.now(), true);
      bus.publish(payload);
    }
    await new Promise((r) => setTimeout(r, 1));
  }
  await new Promise((r) => setTimeout(r, 200));
  latencies.sort((a, b) => a - b);
  const pct = (q: number) => latencies[Math.floor(q * (latencies.length - 1))] ?? NaN;
  console.log(JSON.stringify({
    received: latencies.length,
    expected: rate * seconds,
    // Every pulse published, warm-up included (a starved generator publishes fewer).
    published: due,
    p50Ms: pct(0.5),
    p99Ms: pct(0.99),
  }));
}
await bus.close();
Deno.exit(0);
