/**
 * `arqon bench`: a quick publish/subscribe load test against any node. One connection
 * publishes N pulses of S bytes; another subscribes and times each delivery.
 * @module
 */
import { Command } from "commander";
import { CliError, connect, durationMs, EXIT, type GlobalOptions, intOption } from "./common.ts";

/** What one bench run measured. */
export interface BenchResult {
  /** Pulses published. */
  sent: number;
  /** Pulses delivered to the subscriber. */
  received: number;
  /** Payload size, bytes. */
  size: number;
  /** Publishes a second (first publish to the last one handed to the network). */
  publishRate: number;
  /** Deliveries a second (first publish to the last delivery). */
  deliveryRate: number;
  /** Publish-to-delivery latency, ms, median. */
  p50Ms: number;
  /** Publish-to-delivery latency, ms, 99th percentile. */
  p99Ms: number;
}

/** The `bench` command. */
export function benchCommand(globals: () => GlobalOptions): Command {
  return new Command("bench")
    .description("Publish N pulses of S bytes and report msgs/s and delivery latency.")
    .option("-n, --count <n>", "pulses to publish", "10000")
    .option("-s, --size <bytes>", "payload size in bytes (at least 8)", "128")
    .option("--rate <msgs/s>", "pace publishes at this rate (default 0: as fast as possible)", "0")
    .option("--no-nodelay", "use the runtime's WebSocket (Nagle on) instead of TCP_NODELAY")
    .option("--topic <topic>", "topic to use (default: a fresh bench.<random> topic)")
    .option("-r, --reality <name>", "reality to use", "default")
    .option("--timeout <duration>", "give up waiting for deliveries after this long", "30s")
    .option("--json", "print the result as JSON")
    .addHelpText(
      "after",
      `
Latency is publish to delivery, measured in this process (both clients share its clock).
Unpaced, the run saturates the node and latency is mostly queueing; --rate measures it at a load.
A rate limited or policed node refuses some publishes: the bench then stops with their error.

Example:
  arqon bench --count 100000 --size 1024 --server ws://10.0.0.5:7420/v1/ws`,
    )
    .action(async (o) => {
      const count = intOption("--count", o.count, 1)!;
      const size = intOption("--size", o.size, 8)!;
      const timeoutMs = durationMs("--timeout", o.timeout);
      const rate = intOption("--rate", o.rate, 0)!;
      const topic = o.topic ?? `bench.${crypto.randomUUID().slice(0, 8)}`;
      const result = await bench(globals(), {
        count,
        size,
        topic,
        reality: o.reality,
        timeoutMs,
        rate,
        noDelay: o.nodelay !== false,
      });
      if (o.json) {
        console.log(JSON.stringify(result));
        return;
      }
      console.log(
        `${result.sent} msgs of ${size} B on ${topic}: publish ${
          fmt(result.publishRate)
        } msgs/s, ` +
          `delivered ${result.received} at ${fmt(result.deliveryRate)} msgs/s, ` +
          `latency p50 ${result.p50Ms.toFixed(2)} ms p99 ${result.p99Ms.toFixed(2)} ms`,
      );
    });
}

function fmt(n: number): string {
  return Math.round(n).toLocaleString("en-US");
}

/** Runs one bench; exported for tests and scripts. */
export async function bench(
  g: GlobalOptions,
  o: {
    count: number;
    size: number;
    topic: string;
    reality: string;
    timeoutMs: number;
    rate?: number;
    noDelay?: boolean;
  },
): Promise<BenchResult> {
  // TCP_NODELAY (the client's own ws:// socket): with Nagle on, paced small batches wait on
  // delayed ACKs and the latency measured is the kernel's, not the node's.
  const sub = await connect(g, "arqon-bench-sub", { noDelay: o.noDelay });
  const pub = await connect(g, "arqon-bench-pub", { noDelay: o.noDelay });
  const latencies: number[] = [];
  let lastAt = 0;
  let done!: () => void;
  const all = new Promise<void>((r) => done = r);
  try {
    const s = sub.subscribe(o.topic, {
      reality: o.reality,
      resume: false,
      // The bench wants every pulse: queue up to the whole run rather than drop.
      maxQueueMessages: o.count,
      onPulse: (p) => {
        const now = performance.now();
        const view = new DataView(p.payload!.buffer, p.payload!.byteOffset, 8);
        latencies.push(now - view.getFloat64(0, true));
        lastAt = now;
        if (latencies.length >= o.count) done();
      },
    });
    await s.ready;
    const payload = new Uint8Array(o.size);
    const stamp = new DataView(payload.buffer);
    const start = performance.now();
    let refused: unknown;
    const rate = o.rate ?? 0;
    for (let i = 0; i < o.count; i++) {
      if (rate > 0) {
        // Open-loop pacing: message i leaves at start + i/rate, whatever the previous did.
        const wait = start + (i * 1000) / rate - performance.now();
        if (wait > 1) {
          void pub.drain(); // hand the batch to the socket before sleeping
          await new Promise((r) => setTimeout(r, wait));
        }
      }
      stamp.setFloat64(0, performance.now(), true);
      // "received" acks surface refusals (rate limits, policies); we do not wait on each.
      pub.publish(o.topic, payload.slice(), { reality: o.reality, ack: "received" })
        .catch((e) => refused ??= e);
      if (i % 500 === 499) {
        await pub.drain(1 << 20);
        if (refused) throw refused;
      }
    }
    await pub.flush();
    if (refused) throw refused;
    const published = performance.now();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = new Promise<boolean>((r) => timer = setTimeout(() => r(true), o.timeoutMs));
    const late = await Promise.race([all.then(() => false), timedOut]);
    clearTimeout(timer);
    if (late && latencies.length === 0) {
      throw new CliError(EXIT.TIMEOUT, `no delivery within ${o.timeoutMs} ms`);
    }
    const sorted = latencies.slice().sort((a, b) => a - b);
    const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
    return {
      sent: o.count,
      received: latencies.length,
      size: o.size,
      publishRate: o.count / ((published - start) / 1000),
      deliveryRate: latencies.length / ((lastAt - start) / 1000),
      p50Ms: at(0.5),
      p99Ms: at(0.99),
    };
  } finally {
    await pub.close();
    await sub.close();
  }
}
