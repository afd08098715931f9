/**
 * The load processes of `deno task bench:store` (bench/store_bench.ts), each run as its own
 * process pinned to the load CPU, printing one JSON line:
 *
 * - `pub-arqon <ws url> <seconds> <inflight>` / `pub-js <nats url> <seconds> <inflight>`:
 *   durable-acked 1 KB publishes keeping `inflight` outstanding; `{"perSecond", "cpuUs"}`
 *   (acks/s, and the publisher's CPU per ack, µs).
 * - `read-arqon <url> <reality> <n> <passes> <server pid>`: `history.get` of the first `n`
 *   pulses with the TypeScript client (WebSocket or raw TCP by the URL), `passes` times.
 * - `read-js <nats url> <stream> <n> <passes> <server pid>`: the first `n` messages of the
 *   stream with a nats.js ordered consumer, `passes` times.
 *
 * A reader makes one untimed warm-up pass, then prints `{"rates": [...], "serverUs": [...],
 * "clientUs": [...]}`: pulses/s, and the server's and the reader's CPU per pulse (µs) of
 * each timed pass.
 * @module
 */
import { cpuUsage } from "node:process";
import { connect as natsConnect } from "nats";
import { ArqonClient } from "../mod.ts";
import { cpuSecondsOf } from "./support.ts";

const PAYLOAD = 1024;

/**
 * Keeps `inflight` acknowledged publishes outstanding for `seconds`; returns acks/s. Both
 * peers' publishers run this same loop, only `publishOne` differs.
 */
async function windowedAckRate(
  publishOne: () => Promise<unknown>,
  seconds: number,
  inflight: number,
): Promise<number> {
  let acked = 0;
  let outstanding = 0;
  let wake: (() => void) | null = null;
  const start = performance.now();
  const end = start + seconds * 1000;
  const refill = () => {
    while (outstanding < inflight) {
      outstanding++;
      publishOne().then(
        () => {
          acked++;
          outstanding--;
          wake?.();
        },
        (err) => {
          console.error(err);
          Deno.exit(1);
        },
      );
    }
  };
  while (performance.now() < end) {
    refill();
    await new Promise<void>((r) => (wake = r));
    wake = null;
  }
  while (outstanding > 0) {
    await new Promise<void>((r) => (wake = r));
    wake = null;
  }
  return acked / ((performance.now() - start) / 1000);
}

async function publisherArqon(url: string, seconds: number, inflight: number): Promise<number> {
  const client = await ArqonClient.connect(url, { name: "bench" });
  const payload = new Uint8Array(PAYLOAD);
  const rate = await windowedAckRate(
    () => client.publish("bench.store.data", payload, { reality: "bench", ack: "durable" }),
    seconds,
    inflight,
  );
  await client.close();
  return rate;
}

async function publisherJetStream(url: string, seconds: number, inflight: number): Promise<number> {
  const nc = await natsConnect({ servers: url });
  const js = nc.jetstream();
  const payload = new Uint8Array(PAYLOAD);
  const rate = await windowedAckRate(
    () => js.publish("bench.store.data", payload),
    seconds,
    inflight,
  );
  await nc.drain();
  return rate;
}

/** Timed passes of `read` (which returns how many it read), with both sides' CPU. */
async function timedPasses(
  passes: number,
  n: number,
  serverPid: number,
  read: () => Promise<number>,
): Promise<{ rates: number[]; serverUs: number[]; clientUs: number[] }> {
  const out = { rates: [] as number[], serverUs: [] as number[], clientUs: [] as number[] };
  // One pass untimed: the JIT compiles the reader's path in it (a cold pass of a few tens
  // of thousands of pulses cost 3-5x a warm one), for both peers' JavaScript readers.
  await read();
  for (let i = 0; i < passes; i++) {
    const server0 = cpuSecondsOf(serverPid);
    const client0 = cpuUsage();
    const t = performance.now();
    const got = await read();
    const ms = performance.now() - t;
    const client = cpuUsage(client0);
    if (got !== n) throw new Error(`read ${got} of ${n}`);
    out.rates.push(Math.round(n / (ms / 1000)));
    out.serverUs.push((cpuSecondsOf(serverPid) - server0) * 1e6 / n);
    out.clientUs.push((client.user + client.system) / n);
  }
  return out;
}

async function readerArqon(url: string, reality: string, n: number, passes: number, pid: number) {
  const client = await ArqonClient.connect(url, { name: "bench-history" });
  const result = await timedPasses(
    passes,
    n,
    pid,
    async () => (await client.history({ reality, limit: n })).length,
  );
  await client.close();
  return result;
}

async function readerJetStream(
  url: string,
  stream: string,
  n: number,
  passes: number,
  pid: number,
) {
  const nc = await natsConnect({ servers: url });
  const js = nc.jetstream();
  const result = await timedPasses(passes, n, pid, async () => {
    // An ordered consumer (no name) delivers the stream from its first message.
    const consumer = await js.consumers.get(stream);
    const messages = await consumer.consume({ max_messages: 8192 });
    let read = 0;
    for await (const _ of messages) {
      if (++read >= n) break;
    }
    return read;
  });
  await nc.close();
  return result;
}

const [role, url, ...rest] = Deno.args;
let result: unknown;
if (role === "pub-arqon" || role === "pub-js") {
  const publish = role === "pub-arqon" ? publisherArqon : publisherJetStream;
  const perSecond = await publish(url, Number(rest[0]), Number(rest[1]));
  const cpu = cpuUsage();
  result = { perSecond, cpuUs: (cpu.user + cpu.system) / (perSecond * Number(rest[0])) };
} else if (role === "read-arqon" || role === "read-js") {
  const read = role === "read-arqon" ? readerArqon : readerJetStream;
  result = await read(url, rest[0], Number(rest[1]), Number(rest[2]), Number(rest[3]));
} else {
  console.error(`unknown role ${role}`);
  Deno.exit(2);
}
console.log(JSON.stringify(result));
Deno.exit(0);
