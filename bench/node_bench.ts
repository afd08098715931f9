/**
 * `deno task bench`: the node against nats-server on this machine, in the same run.
 *
 * Starts an ArqonBus node (with its raw TCP listener) and a nats-server (Debian package)
 * on loopback ports, then drives both with load generator processes: our client over
 * WebSocket and over raw TCP (bench/loadgen.ts), and NATS's JavaScript client (the same
 * kind of client as ours) and its Go client (bench/nats_load, NATS at its best; built here
 * against Debian's golang-github-nats-io-go-nats-dev, installed by this bench when
 * missing and run as root). 1 KB payloads, 1→1 and 1→10 fan-out at maximum rate, and
 * 1→1 latency at fixed rates (20k and 50k msg/s). Beside each figure: the server's CPU
 * per delivered pulse (from /proc/<pid>/stat), so efficiency shows even when the load
 * generator is the limit. Prints ratios against both NATS clients, and the node's
 * start-to-ready time. The throughput lines also give the load clients' own CPU per pulse
 * ("client": publisher per pulse sent + subscriber per pulse received, as the load processes
 * report it; the Go client reports none). `--baseline <dir>`: also run the load generator
 * of another checkout (e.g. `git worktree add --detach /tmp/base main`, with its protocol
 * types generated) against the same node, as "arqon ws (base)" and "arqon tcp (base)", to
 * compare a client change before and after in the same run.
 *
 *   deno task bench [--seconds 5] [--rounds 1] [--no-pin] [--no-go] [--node-flags="--ws-engine deno"] [--baseline <dir>]
 * @module
 */
import { helpFromHeader } from "../scripts/task_cli.ts";
import { parseArgs } from "node:util";
import {
  buildGo,
  CAN_PIN,
  deliveries,
  LOAD_CPU,
  median,
  SERVER_CPU,
  spawnBinary,
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
    // Leave out the Go NATS client (no Go toolchain wanted).
    "no-go": { type: "boolean", default: false },
    // Extra node flags, to compare configurations against the same peer.
    "node-flags": { type: "string", default: "" },
    // Another checkout whose bench/loadgen.ts also runs against our node (client before/after).
    baseline: { type: "string" },
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

/** A server under test: its clients' URL and its CPU clock. */
interface Server {
  readonly cpuSeconds: () => number;
}

/** One load client: how to spawn a role of it against its server. */
interface Client {
  readonly label: string;
  readonly server: Server;
  spawn(role: string, args: string[]): Deno.ChildProcess;
}

/**
 * A figure, the server's CPU per delivered pulse (µs) while it was measured, and the load
 * clients' own CPU per pulse (µs; NaN when a client reports none).
 */
interface Measured {
  readonly value: number;
  readonly cpuUs: number;
  readonly clientUs: number;
}

/** Delivered pulses per second at maximum publish rate, with `connections` subscribers. */
async function throughput(client: Client, connections: number): Promise<Measured> {
  const cpu0 = client.server.cpuSeconds();
  const { rate, delivered, sent, pubCpuUs, subCpuUs } = await deliveries(
    () => client.spawn("sub", [String(connections)]),
    () => client.spawn("pub", [String(SECONDS)]),
    SECONDS,
  );
  const cpu = client.server.cpuSeconds() - cpu0;
  return {
    value: rate,
    cpuUs: delivered > 0 ? cpu / delivered * 1e6 : NaN,
    // What one pulse costs the clients: publishing it once, receiving it (fan-out times).
    clientUs: pubCpuUs / sent + subCpuUs / delivered * connections,
  };
}

async function latency(client: Client, rate: number) {
  const cpu0 = client.server.cpuSeconds();
  const child = client.spawn("latency", [String(rate), String(SECONDS)]);
  child.stdin.close();
  const out = new TextDecoder().decode((await child.output()).stdout).trim().split("\n").at(-1)!;
  const cpu = client.server.cpuSeconds() - cpu0;
  // A load generator that received nothing (a crashed or starved run on a busy machine)
  // reports null percentiles: they print as NaN instead of ending the whole bench.
  let parsed: Record<string, number | null> = {};
  try {
    parsed = JSON.parse(out);
  } catch {
    console.error(`latency ${client.label}: no result (${out.slice(0, 200)})`);
  }
  const n = (v: number | null | undefined) => typeof v === "number" ? v : NaN;
  return {
    received: n(parsed.received),
    expected: n(parsed.expected) || rate * SECONDS,
    p50Ms: n(parsed.p50Ms),
    p99Ms: n(parsed.p99Ms),
    // 1→1: every pulse published (the second of warm-up included) is delivered once.
    cpuUs: cpu / (n(parsed.published) || rate * (SECONDS + 1)) * 1e6,
  };
}

const fmt = (n: number) => n.toLocaleString("en-US");
const us = (n: number) => `${n.toFixed(2)} µs`;
// The node as users start it: durable log on disk (bench topics have no retention rule,
// so they are fire-and-forget, as core NATS subjects are).
const dataDir = await Deno.makeTempDir({ prefix: "arqon-bench-" });
const nodeFlags = values["node-flags"]!.split(" ").filter(Boolean);
const arqon = await startNodeProcess(
  ["--data-dir", dataDir, "--tcp-port", "0", ...nodeFlags],
  serverCpu,
);
const nats = await startNats(serverCpu);
const goDir = await Deno.makeTempDir({ prefix: "arqon-bench-go-" });
const natsGo = values["no-go"]
  ? null
  : await buildGo(new URL("nats_load/main.go", import.meta.url), goDir);
const script = (server: Server, label: string, target: string, url: string): Client => ({
  label,
  server,
  spawn: (role, args) => spawnScript(loadgen, [role, target, url, ...args], loadCpu),
});
const baseline = values.baseline ? `${values.baseline.replace(/\/$/, "")}/bench/loadgen.ts` : null;
const based = (label: string, url: string): Client => ({
  label,
  server: arqon,
  spawn: (role, args) => spawnScript(baseline!, [role, "arqon", url, ...args], loadCpu),
});
const clients: Client[] = [
  script(arqon, "arqon ws", "arqon", arqon.wsUrl),
  ...(arqon.tcpUrl ? [script(arqon, "arqon tcp", "arqon", arqon.tcpUrl)] : []),
  ...(baseline ? [based("arqon ws (base)", arqon.wsUrl)] : []),
  ...(baseline && arqon.tcpUrl ? [based("arqon tcp (base)", arqon.tcpUrl)] : []),
  script(nats, "nats js", "nats", nats.url),
  ...(natsGo
    ? [{
      label: "nats go",
      server: nats,
      spawn: (role: string, args: string[]) =>
        spawnBinary(natsGo, [role, `nats://${nats.url}`, ...args], loadCpu),
    }]
    : []),
];
const ours = clients.filter((c) => c.label.startsWith("arqon"));
const peers = clients.filter((c) => c.label.startsWith("nats"));
console.log(
  `ArqonBus node start-to-ready: ${arqon.readyMs.toFixed(0)} ms (process spawn to ready line)`,
);
console.log(
  `payload 1 KB, ${SECONDS} s per measurement, ${ROUNDS} round(s), ${
    PIN ? `servers on CPU ${SERVER_CPU}, load on CPU ${LOAD_CPU}` : "unpinned"
  }; load average ${Deno.loadavg().map((x) => x.toFixed(2)).join(" ")}`,
);
console.log(
  `clients: ${clients.map((c) => c.label).join(", ")}; "cpu": server CPU per delivered pulse\n`,
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
      const got = new Map<string, Measured>();
      for (const c of clients) got.set(c.label, await throughput(c, fanout));
      for (const c of clients) {
        const m = got.get(c.label)!;
        record(`1→${fanout} ${c.label} client cpu per pulse µs`, m.clientUs);
        console.log(
          `1→${fanout} deliveries/s   ${c.label.padEnd(16)} ${fmt(m.value).padStart(10)}   cpu ${
            us(m.cpuUs)
          }   client ${Number.isNaN(m.clientUs) ? "n/a" : us(m.clientUs)}`,
        );
      }
      for (const a of ours) {
        for (const n of peers) {
          const x = got.get(a.label)!;
          const y = got.get(n.label)!;
          record(`1→${fanout} ${a.label} / ${n.label} throughput`, x.value / y.value);
          record(`1→${fanout} ${a.label} / ${n.label} cpu per pulse`, x.cpuUs / y.cpuUs);
          console.log(
            `  ${a.label} / ${n.label}: throughput ${(x.value / y.value).toFixed(2)}x, ` +
              `cpu per pulse ${(x.cpuUs / y.cpuUs).toFixed(2)}x` +
              (Number.isNaN(y.clientUs)
                ? ""
                : `, client cpu per pulse ${(x.clientUs / y.clientUs).toFixed(2)}x`),
          );
        }
      }
    }
    for (const rate of [20_000, 50_000]) {
      const got = new Map<string, Awaited<ReturnType<typeof latency>>>();
      for (const c of clients) got.set(c.label, await latency(c, rate));
      for (const c of clients) {
        const m = got.get(c.label)!;
        record(`1→1 @ ${fmt(rate)}/s ${c.label} p99 ms`, m.p99Ms);
        record(`1→1 @ ${fmt(rate)}/s ${c.label} cpu µs`, m.cpuUs);
        console.log(
          `1→1 @ ${fmt(rate)}/s   ${c.label.padEnd(16)} p50 ${m.p50Ms.toFixed(3)} ms p99 ${
            m.p99Ms.toFixed(3)
          } ms (${fmt(m.received)}/${fmt(m.expected)})   cpu ${us(m.cpuUs)}`,
        );
      }
      for (const a of ours) {
        for (const n of peers) {
          const x = got.get(a.label)!;
          const y = got.get(n.label)!;
          record(`1→1 @ ${fmt(rate)}/s ${a.label} / ${n.label} cpu per pulse`, x.cpuUs / y.cpuUs);
          console.log(
            `  ${a.label} / ${n.label}: p99 ${(x.p99Ms / y.p99Ms).toFixed(2)}x, ` +
              `cpu per pulse ${(x.cpuUs / y.cpuUs).toFixed(2)}x`,
          );
        }
      }
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
  await Deno.remove(goDir, { recursive: true }).catch(() => {});
}
