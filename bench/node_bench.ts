/**
 * `deno task bench`: the node against nats-server on this machine, in the same run.
 *
 * Starts an ArqonBus node and a nats-server (Debian package) on loopback ports, then
 * drives both with the same load generator processes (bench/loadgen.ts): 1 KB payloads,
 * 1→1 and 1→10 fan-out at maximum rate, and 1→1 latency at fixed rates (20k and 50k
 * msg/s). Prints both figures and the ratio, plus the node's start-to-ready time.
 *
 *   deno task bench [--seconds 5] [--rounds 1]
 * @module
 */
import { parseArgs } from "node:util";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    seconds: { type: "string", default: "5" },
    rounds: { type: "string", default: "1" },
    "no-pin": { type: "boolean", default: false },
  },
});
// Each server (ours and nats-server) gets CPU 1 and the load processes CPU 0, so both
// peers run on the same resources and the other load on this shared machine matters less.
const PIN = !values["no-pin"] && Deno.build.os === "linux" && navigator.hardwareConcurrency >= 2;
const SERVER_CPU = "1";
const LOAD_CPU = "0";

/** A command, pinned to `cpu` with taskset when pinning is on. */
function pinned(cpu: string, cmd: string, args: string[]): [string, string[]] {
  return PIN ? ["taskset", ["-c", cpu, cmd, ...args]] : [cmd, args];
}
const SECONDS = Number(values.seconds);
const ROUNDS = Number(values.rounds);
const root = new URL("../", import.meta.url);
const loadgen = new URL("bench/loadgen.ts", root).pathname;

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

async function readLine(reader: ReadableStreamDefaultReader<string>): Promise<string> {
  let buf = "";
  while (true) {
    const { value, done } = await reader.read();
    if (done) return buf;
    buf += value;
    const nl = buf.indexOf("\n");
    if (nl >= 0) return buf.slice(0, nl);
  }
}

async function startArqon(): Promise<
  { url: string; readyMs: number; stop: () => Promise<void> }
> {
  const dataDir = await Deno.makeTempDir({ prefix: "arqon-bench-" });
  const t0 = performance.now();
  // The node as users start it: durable log on disk (bench topics have no retention
  // rule, so they are fire-and-forget, as core NATS subjects are).
  const [cmd, args] = pinned(SERVER_CPU, Deno.execPath(), [
    "run",
    "-A",
    new URL("mod.ts", root).pathname,
    "--port",
    "0",
    "--data-dir",
    dataDir,
  ]);
  const child = new Deno.Command(cmd, {
    args,
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const line = await readLine(reader);
  const readyMs = performance.now() - t0;
  const m = line.match(/ws (ws:\/\/\S+)\)/);
  if (!m) throw new Error(`node did not start: ${line}`);
  const stop = async () => {
    child.kill("SIGTERM");
    await child.status;
    await Deno.remove(dataDir, { recursive: true });
  };
  return { url: m[1], readyMs, stop };
}

async function startNats(): Promise<{ url: string; stop: () => void }> {
  const port = freePort();
  const [cmd, args] = pinned(SERVER_CPU, "nats-server", ["-a", "127.0.0.1", "-p", String(port)]);
  const child = new Deno.Command(cmd, {
    args,
    stdout: "null",
    stderr: "null",
  }).spawn();
  for (let i = 0; i < 100; i++) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      return { url: `127.0.0.1:${port}`, stop: () => child.kill("SIGTERM") };
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error("nats-server did not start (apt-get install nats-server)");
}

function spawnLoadgen(args: string[]) {
  const [cmd, pinnedArgs] = pinned(LOAD_CPU, Deno.execPath(), ["run", "-A", loadgen, ...args]);
  return new Deno.Command(cmd, {
    args: pinnedArgs,
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
}

/** Delivered pulses per second at maximum publish rate, with `connections` subscribers. */
async function throughput(target: string, url: string, connections: number): Promise<number> {
  const sub = spawnLoadgen(["sub", target, url, String(connections)]);
  const reader = sub.stdout.pipeThrough(new TextDecoderStream()).getReader();
  if ((await readLine(reader)).trim() !== "ready") throw new Error("subscriber failed");
  const pub = spawnLoadgen(["pub", target, url, String(SECONDS)]);
  pub.stdin.close();
  await pub.output();
  await new Promise((r) => setTimeout(r, 300));
  await sub.stdin.close();
  let rest = "";
  while (true) {
    const { value, done } = await reader.read();
    if (done) break;
    rest += value;
  }
  await sub.status;
  const { buckets } = JSON.parse(rest.trim().split("\n").at(-1)!) as { buckets: number[] };
  // Steady state: skip the first 0.5 s and the tail after the publisher stopped.
  const steady = buckets.slice(5, Math.max(6, SECONDS * 10 - 2));
  return Math.round(steady.reduce((a, b) => a + b, 0) / steady.length * 10);
}

async function latency(target: string, url: string, rate: number) {
  const child = spawnLoadgen(["latency", target, url, String(rate), String(SECONDS)]);
  child.stdin.close();
  const out = new TextDecoder().decode((await child.output()).stdout).trim().split("\n").at(-1)!;
  return JSON.parse(out) as { received: number; expected: number; p50Ms: number; p99Ms: number };
}

const fmt = (n: number) => n.toLocaleString("en-US");
const arqon = await startArqon();
const nats = await startNats();
console.log(
  `ArqonBus node start-to-ready: ${arqon.readyMs.toFixed(0)} ms (process spawn to ready line)`,
);
console.log(
  `payload 1 KB, ${SECONDS} s per measurement, ${ROUNDS} round(s), ${
    PIN ? `servers on CPU ${SERVER_CPU}, load on CPU ${LOAD_CPU}` : "unpinned"
  }\n`,
);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
const ratios = new Map<string, number[]>();
const record = (key: string, value: number) => {
  if (!ratios.has(key)) ratios.set(key, []);
  ratios.get(key)!.push(value);
};
try {
  // Rounds interleave the peers so that both see the same background load.
  for (let round = 1; round <= ROUNDS; round++) {
    for (const fanout of [1, 10]) {
      const a = await throughput("arqon", arqon.url, fanout);
      const n = await throughput("nats", nats.url, fanout);
      record(`1→${fanout} throughput ratio`, a / n);
      console.log(
        `1→${fanout} deliveries/s   arqon ${fmt(a).padStart(10)}   nats ${
          fmt(n).padStart(10)
        }   ratio ${(a / n).toFixed(2)}`,
      );
    }
    for (const rate of [20_000, 50_000]) {
      const a = await latency("arqon", arqon.url, rate);
      const n = await latency("nats", nats.url, rate);
      record(`1→1 @ ${fmt(rate)}/s arqon p99 ms`, a.p99Ms);
      record(`1→1 @ ${fmt(rate)}/s nats p99 ms`, n.p99Ms);
      console.log(
        `1→1 @ ${fmt(rate)}/s    arqon p50 ${a.p50Ms.toFixed(3)} ms p99 ${a.p99Ms.toFixed(3)} ms (${
          fmt(a.received)
        }/${fmt(a.expected)})   nats p50 ${n.p50Ms.toFixed(3)} ms p99 ${n.p99Ms.toFixed(3)} ms (${
          fmt(n.received)
        }/${fmt(n.expected)})   p99 ratio ${(a.p99Ms / n.p99Ms).toFixed(2)}`,
      );
    }
  }
  if (ROUNDS > 1) {
    console.log(`\nmedians over ${ROUNDS} rounds:`);
    for (const [key, values] of ratios) console.log(`  ${key}: ${median(values).toFixed(2)}`);
  }
} finally {
  await arqon.stop();
  nats.stop();
}
