/**
 * `deno task bench`: the node against nats-server on this machine, in the same run.
 *
 * Starts an ArqonBus node and a nats-server (Debian package) on loopback ports, then
 * drives both with the same load generator processes (bench/loadgen.ts): 1 KB payloads,
 * 1→1 and 1→10 fan-out at maximum rate, and 1→1 latency at fixed rates (20k and 50k
 * msg/s). Prints both figures and the ratio, plus the node's start-to-ready time.
 *
 *   deno task bench [--seconds 5] [--rounds 1] [--no-pin] [--node-flags="--ws-engine deno"]
 * @module
 */
import { helpFromHeader } from "../scripts/task_cli.ts";
import { parseArgs } from "node:util";
import {
  CAN_PIN,
  deliveryRate,
  LOAD_CPU,
  median,
  SERVER_CPU,
  spawnScript,
  startNats,
  startNodeProcess,
} from "./support.ts";

helpFromHeader(import.meta.url); // `--help`: the usage above, exit 0

const { values } = parseArgs({
  args: Deno.args,
  options: {
    seconds: { type: "string", default: "5" },
    rounds: { type: "string", default: "1" },
    "no-pin": { type: "boolean", default: false },
    // Extra node flags, to compare configurations against the same peer.
    "node-flags": { type: "string", default: "" },
  },
});
const SECONDS = Number(values.seconds);
const ROUNDS = Number(values.rounds);
// Each server (ours and nats-server) gets CPU 1 and the load processes CPU 0, so both
// peers run on the same resources and the other load on this shared machine matters less.
const PIN = !values["no-pin"] && CAN_PIN;
const serverCpu = PIN ? SERVER_CPU : null;
const loadCpu = PIN ? LOAD_CPU : null;
const loadgen = new URL("loadgen.ts", import.meta.url).pathname;

/** Delivered pulses per second at maximum publish rate, with `connections` subscribers. */
function throughput(target: string, url: string, connections: number): Promise<number> {
  return deliveryRate(
    () => spawnScript(loadgen, ["sub", target, url, String(connections)], loadCpu),
    () => spawnScript(loadgen, ["pub", target, url, String(SECONDS)], loadCpu),
    SECONDS,
  );
}

async function latency(target: string, url: string, rate: number) {
  const child = spawnScript(
    loadgen,
    ["latency", target, url, String(rate), String(SECONDS)],
    loadCpu,
  );
  child.stdin.close();
  const out = new TextDecoder().decode((await child.output()).stdout).trim().split("\n").at(-1)!;
  // A load generator that received nothing (a crashed or starved run on a busy machine)
  // reports null percentiles: they print as NaN instead of ending the whole bench.
  let parsed: Record<string, number | null> = {};
  try {
    parsed = JSON.parse(out);
  } catch {
    console.error(`latency ${target}: no result (${out.slice(0, 200)})`);
  }
  const n = (v: number | null | undefined) => typeof v === "number" ? v : NaN;
  return {
    received: n(parsed.received),
    expected: n(parsed.expected) || rate * SECONDS,
    p50Ms: n(parsed.p50Ms),
    p99Ms: n(parsed.p99Ms),
  };
}

const fmt = (n: number) => n.toLocaleString("en-US");
// The node as users start it: durable log on disk (bench topics have no retention rule,
// so they are fire-and-forget, as core NATS subjects are).
const dataDir = await Deno.makeTempDir({ prefix: "arqon-bench-" });
const nodeFlags = values["node-flags"]!.split(" ").filter(Boolean);
const arqon = await startNodeProcess(["--data-dir", dataDir, ...nodeFlags], serverCpu);
const nats = await startNats(serverCpu);
console.log(
  `ArqonBus node start-to-ready: ${arqon.readyMs.toFixed(0)} ms (process spawn to ready line)`,
);
console.log(
  `payload 1 KB, ${SECONDS} s per measurement, ${ROUNDS} round(s), ${
    PIN ? `servers on CPU ${SERVER_CPU}, load on CPU ${LOAD_CPU}` : "unpinned"
  }\n`,
);
const results = new Map<string, number[]>();
const record = (key: string, value: number) => {
  if (!results.has(key)) results.set(key, []);
  results.get(key)!.push(value);
};
try {
  // Rounds interleave the peers so that both see the same background load.
  for (let round = 1; round <= ROUNDS; round++) {
    for (const fanout of [1, 10]) {
      const a = await throughput("arqon", arqon.wsUrl, fanout);
      const n = await throughput("nats", nats.url, fanout);
      record(`1→${fanout} throughput ratio`, a / n);
      console.log(
        `1→${fanout} deliveries/s   arqon ${fmt(a).padStart(10)}   nats ${
          fmt(n).padStart(10)
        }   ratio ${(a / n).toFixed(2)}`,
      );
    }
    for (const rate of [20_000, 50_000]) {
      const a = await latency("arqon", arqon.wsUrl, rate);
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
    for (const [key, values] of results) console.log(`  ${key}: ${median(values).toFixed(2)}`);
  }
} finally {
  await arqon.stop();
  await nats.stop();
  await Deno.remove(dataDir, { recursive: true });
}
