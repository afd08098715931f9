/**
 * `deno task bench:delivery`: the server's CPU per delivered pulse, node against
 * nats-server in the same run, with raw-socket clients that cost next to nothing (so a
 * starved load generator on a busy machine does not change what the server does per
 * pulse): length-prefixed protobuf frames on the node's raw TCP port, the NATS text
 * protocol on nats-server's. One process publishes a fixed count of 1 KB pulses in
 * 256-pulse writes, keeping at most `--window` pulses ahead of the slowest subscriber, and
 * `fanout` connections read and count deliveries. Server CPU (user + system, from
 * /proc/<pid>/stat) over the run, divided by the deliveries, is printed with the ratio.
 *
 * `--other <path/to/mod.ts>` also runs another build of the node (an older checkout) in
 * the same rounds, for before/after figures measured side by side.
 *
 *   deno task bench:delivery [--pulses 100000] [--rounds 3] [--window 4096] [--other ../before/mod.ts]
 * @module
 */
import { helpFromHeader } from "../scripts/task_cli.ts";
import { parseArgs } from "node:util";
import { BatchBuilder, encodeFrame, encodePublishFrame } from "../runtime/protocol/mod.ts";
import {
  CAN_PIN,
  concat,
  cpuSecondsOf,
  lengthPrefixed,
  LOAD_CPU,
  median,
  NODE_V8_FLAGS,
  pinned,
  readUntil,
  SERVER_CPU,
  spawnScript,
  startNats,
} from "./support.ts";

const TOPIC = "bench.load.data";
const PAYLOAD = 1024;
const PER_WRITE = 256;

// ------------------------------------------------------------------ load role

/** Counts deliveries in the bytes of one subscriber connection. */
interface Counter {
  count: number;
  feed(bytes: Uint8Array): void;
}

// Node raw TCP: 4-byte big-endian length, then a Frame; deliveries are Frame.deliver (8),
// alone or inside Frame.batch (14) as Batch.frames (1).
function arqonCounter(key = 0x42): Counter {
  let pending = new Uint8Array(0);
  const c: Counter = {
    count: 0,
    feed(bytes) {
      const buf = pending.length ? concat(pending, bytes) : bytes;
      let at = 0;
      while (buf.length - at >= 4) {
        const len = new DataView(buf.buffer, buf.byteOffset + at).getUint32(0);
        if (buf.length - at - 4 < len) break;
        c.count += framesIn(buf.subarray(at + 4, at + 4 + len), key);
        at += 4 + len;
      }
      pending = buf.slice(at);
    },
  };
  return c;
}

function varint(b: Uint8Array, at: number): [number, number] {
  let v = 0;
  let mul = 1;
  while (true) {
    const x = b[at++];
    v += (x & 0x7f) * mul;
    if (x < 0x80) return [v, at];
    mul *= 128;
  }
}

// Frames whose first key byte is `key` (0x42: Frame.deliver), alone or in a Frame.batch.
function framesIn(frame: Uint8Array, key: number): number {
  if (frame[0] === key) return 1;
  if (frame[0] !== 0x72) return 0; // Frame.batch
  let [len, at] = varint(frame, 1);
  const end = at + len;
  let n = 0;
  while (at < end) {
    [len, at] = varint(frame, at + 1); // Batch.frames key, then its length
    if (frame[at] === key) n++;
    at += len;
  }
  return n;
}

// NATS: every delivery is `MSG <subject> <sid> 1024\r\n<payload>\r\n`, the same size.
function natsCounter(): Counter {
  const size = `MSG ${TOPIC} 1 ${PAYLOAD}\r\n`.length + PAYLOAD + 2;
  let bytes = 0;
  const c: Counter = {
    count: 0,
    feed(b) {
      bytes += b.length;
      c.count = Math.floor(bytes / size);
    },
  };
  return c;
}

const enc = new TextEncoder();

async function readInto(conn: Deno.Conn, counter: Counter): Promise<void> {
  const buf = new Uint8Array(256 * 1024);
  while (true) {
    const n = await conn.read(buf).catch(() => null);
    if (n === null) return;
    counter.feed(buf.subarray(0, n));
  }
}

async function load(
  kind: string,
  hostPort: string,
  fanout: number,
  pulses: number,
  window: number,
) {
  const [hostname, port] = [hostPort.split(":")[0], Number(hostPort.split(":")[1])];
  const open = () => Deno.connect({ hostname, port });
  const subs: Deno.Conn[] = [];
  const counters: Counter[] = [];
  let hello: Uint8Array;
  let message: Uint8Array;
  if (kind === "arqon") {
    hello = lengthPrefixed(encodeFrame({ hello: { clientName: "bench", protocolVersion: 1 } }));
    const b = new BatchBuilder();
    const payload = new Uint8Array(PAYLOAD);
    for (let i = 0; i < PER_WRITE; i++) {
      b.addFrame(encodePublishFrame(0, 0, { topic: TOPIC, payload })!);
    }
    message = lengthPrefixed(b.finish());
    for (let i = 0; i < fanout; i++) {
      const c = await open();
      await c.write(hello);
      await c.write(
        lengthPrefixed(encodeFrame({ subscribe: { subscriptionId: 1, pattern: TOPIC } })),
      );
      // Subscribed once a ping sent after it is answered (frames are handled in order).
      await c.write(lengthPrefixed(encodeFrame({ ping: { nonce: 1 } })));
      const pong = arqonCounter(0x6a); // Frame.pong key (13 << 3 | 2)
      const buf = new Uint8Array(4096);
      while (pong.count === 0) {
        const n = await c.read(buf);
        if (n === null) throw new Error("closed before the pong");
        pong.feed(buf.subarray(0, n));
      }
      subs.push(c);
      counters.push(arqonCounter());
    }
  } else {
    hello = enc.encode(`CONNECT {"verbose":false,"pedantic":false}\r\n`);
    const one = concat(enc.encode(`PUB ${TOPIC} ${PAYLOAD}\r\n`), new Uint8Array(PAYLOAD + 2));
    one.set([13, 10], one.length - 2);
    message = new Uint8Array(one.length * PER_WRITE);
    for (let i = 0; i < PER_WRITE; i++) message.set(one, i * one.length);
    for (let i = 0; i < fanout; i++) {
      const c = await open();
      await readUntil(c, "INFO");
      await c.write(concat(hello, enc.encode(`SUB ${TOPIC} 1\r\nPING\r\n`)));
      await readUntil(c, "PONG");
      subs.push(c);
      counters.push(natsCounter());
    }
  }
  const pub = await open();
  if (kind === "nats") await readUntil(pub, "INFO");
  await pub.write(hello);
  const reading = subs.map((c, i) => readInto(c, counters[i]));
  const slowest = () => Math.min(...counters.map((c) => c.count));
  let sent = 0;
  // A subscriber that stops receiving (cut off, or deliveries dropped) ends the run after
  // STALL_MS without progress; the shortfall shows in the delivered count.
  const STALL_MS = 15_000;
  let seen = 0;
  let progressAt = Date.now();
  const stalled = () => {
    const now = slowest();
    if (now !== seen) [seen, progressAt] = [now, Date.now()];
    return Date.now() - progressAt > STALL_MS;
  };
  const t0 = performance.now();
  while (sent < pulses && !stalled()) {
    while (sent - slowest() > window && !stalled()) await new Promise((r) => setTimeout(r, 1));
    for (let w = 0; w < message.length;) w += await pub.write(message.subarray(w));
    sent += PER_WRITE;
  }
  while (slowest() < sent && !stalled()) await new Promise((r) => setTimeout(r, 2));
  const ms = performance.now() - t0;
  const delivered = counters.reduce((n, c) => n + c.count, 0);
  pub.close();
  for (const c of subs) c.close();
  await Promise.all(reading);
  console.log(JSON.stringify({ sent, delivered, ms }));
}

// ------------------------------------------------------------------ orchestrator

interface Server {
  label: string;
  kind: "arqon" | "nats";
  hostPort: string;
  pid: number;
  stop(): Promise<void>;
}

async function startArqon(modPath: string, label: string, cpu: string | null): Promise<Server> {
  const dataDir = await Deno.makeTempDir({ prefix: "arqon-delivery-" });
  const [cmd, args] = pinned(cpu, Deno.execPath(), [
    "run",
    "-A",
    NODE_V8_FLAGS,
    modPath,
    "--port",
    "0",
    "--tcp-port",
    "0",
    "--data-dir",
    dataDir,
  ]);
  const child = new Deno.Command(cmd, { args, stdout: "piped", stderr: "null" }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  while (!/raw tcp listening on tcp:\/\/(\S+)/.test(buf) || !buf.includes("ready on")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`node did not start: ${buf}`);
    buf += value;
  }
  (async () => {
    while (!(await reader.read().catch(() => ({ done: true }))).done) { /* drain */ }
  })();
  return {
    label,
    kind: "arqon",
    hostPort: buf.match(/raw tcp listening on tcp:\/\/(\S+)/)![1],
    pid: child.pid,
    async stop() {
      child.kill("SIGTERM");
      await child.status;
      await Deno.remove(dataDir, { recursive: true }).catch(() => {});
    },
  };
}

async function main() {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      pulses: { type: "string", default: "100000" },
      rounds: { type: "string", default: "3" },
      window: { type: "string", default: "4096" },
      other: { type: "string" },
      "no-pin": { type: "boolean", default: false },
    },
  });
  const pin = !values["no-pin"] && CAN_PIN;
  const serverCpu = pin ? SERVER_CPU : null;
  const loadCpu = pin ? LOAD_CPU : null;
  const pulses = Number(values.pulses);
  const here = new URL("../mod.ts", import.meta.url).pathname;
  const servers: Server[] = [await startArqon(here, "arqon", serverCpu)];
  if (values.other) servers.push(await startArqon(values.other, "arqon (other)", serverCpu));
  const nats = await startNats(serverCpu);
  servers.push({
    label: "nats-server",
    kind: "nats",
    hostPort: nats.url,
    pid: nats.pid,
    stop: nats.stop,
  });
  const self = new URL(import.meta.url).pathname;
  console.log(
    `raw clients, 1 KB pulses, ${
      pulses.toLocaleString("en-US")
    } per run, ${values.rounds} round(s), ${
      pin ? `servers on CPU ${SERVER_CPU}, load on CPU ${LOAD_CPU}` : "unpinned"
    }; load average ${Deno.loadavg().map((x) => x.toFixed(2)).join(" ")}`,
  );
  const results = new Map<string, number[]>();
  try {
    for (let round = 1; round <= Number(values.rounds); round++) {
      // Alternating the order per round: whichever server runs second in a round was
      // measured cheaper on a busy machine, by as much as builds differed.
      const order = round % 2 === 0 ? [...servers].reverse() : servers;
      for (const fanout of [1, 10]) {
        for (const s of order) {
          const cpu0 = cpuSecondsOf(s.pid);
          const child = spawnScript(self, [
            "load",
            s.kind,
            s.hostPort,
            String(fanout),
            String(pulses),
            values.window!,
          ], loadCpu);
          child.stdin.close();
          const out = new TextDecoder().decode((await child.output()).stdout).trim();
          const cpu = cpuSecondsOf(s.pid) - cpu0;
          let r: { sent: number; delivered: number; ms: number };
          try {
            r = JSON.parse(out.split("\n").at(-1)!);
          } catch {
            console.error(`1→${fanout} ${s.label}: no result (${out.slice(0, 200)})`);
            continue;
          }
          const us = cpu / r.delivered * 1e6;
          const key = `1→${fanout} ${s.label}`;
          results.set(key, [...(results.get(key) ?? []), us]);
          console.log(
            `round ${round} 1→${fanout} ${s.label.padEnd(14)} ${
              Math.round(r.delivered / r.ms * 1000).toLocaleString("en-US").padStart(9)
            } deliveries/s  cpu ${us.toFixed(2)} µs/delivery  (${r.delivered}/${r.sent * fanout})`,
          );
        }
      }
    }
    console.log(
      `\nmedians (µs of server CPU per delivered pulse; load average ${
        Deno.loadavg().map((x) => x.toFixed(2)).join(" ")
      }):`,
    );
    for (const fanout of [1, 10]) {
      const natsUs = median(results.get(`1→${fanout} nats-server`) ?? [NaN]);
      for (const s of servers) {
        const us = median(results.get(`1→${fanout} ${s.label}`) ?? [NaN]);
        console.log(
          `  1→${fanout} ${s.label.padEnd(14)} ${us.toFixed(2)} µs   ${
            (us / natsUs).toFixed(2)
          }x nats-server`,
        );
      }
    }
  } finally {
    for (const s of servers) await s.stop();
  }
}

if (Deno.args[0] === "load") {
  const [, kind, hostPort, fanout, pulses, window] = Deno.args;
  await load(kind, hostPort, Number(fanout), Number(pulses), Number(window));
  Deno.exit(0);
} else {
  helpFromHeader(import.meta.url);
  await main();
}
