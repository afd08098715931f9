/**
 * `deno task bench:sdk`: acknowledged 1 KB publishes per second from the Python SDK
 * (sdk/python) and from the TypeScript client, against the same local node in the same run.
 *
 * The node runs as its own process pinned to CPU 1 (`--memory`: no retention rule, so the
 * figure is the client's pipeline, not the disk); each load runs pinned to CPU 0, one after
 * the other, in alternating rounds so both see the same background load. Each load keeps
 * `WINDOW` acks in flight (pipelined publishes, acks matched by correlation id), warms up
 * for 1 s and then counts acks for `SECONDS`. The median of the rounds is printed side by
 * side with the ratio. Speed is measured here and never asserted in tests.
 *
 *   deno task bench:sdk                      # 3 rounds of 5 s
 *   BENCH_ROUNDS=5 BENCH_SECONDS=10 deno task bench:sdk
 *
 * `deno run -A bench/sdk_bench.ts ts-load <url> <seconds> <window>` is the TypeScript load.
 * @module
 */
import { helpFromHeader } from "../scripts/task_cli.ts";
import process from "node:process";
import { ArqonClient } from "../mod.ts";
import { LOAD_CPU, pinned, SERVER_CPU, startNodeProcess } from "./support.ts";

helpFromHeader(import.meta.url); // `--help`: the usage above, exit 0

const PYTHON = Deno.env.get("ARQON_PYTHON") ?? "/usr/bin/python3";
const ROUNDS = Number(Deno.env.get("BENCH_ROUNDS") ?? 3);
const SECONDS = Number(Deno.env.get("BENCH_SECONDS") ?? 5);
const WINDOW = Number(Deno.env.get("BENCH_WINDOW") ?? 4096);
const WARMUP_MS = 1000;
const root = new URL("../", import.meta.url);

interface LoadResult {
  acked: number;
  seconds: number;
  rate: number;
  /** The load process's CPU time per acked publish, µs (holds even on a shared CPU). */
  cpu_us: number;
  /** Every acked publish of the run, warm-up included. */
  total: number;
  /** The node's CPU time per acked publish over the whole run, µs (set here). */
  node_us?: number;
}

/** The TypeScript load: the same loop as sdk/python/bench/publish_load.py. */
async function tsLoad(url: string, seconds: number, window: number): Promise<LoadResult> {
  const client = await ArqonClient.connect(url, { name: "sdk-bench-ts", noDelay: true });
  const payload = new Uint8Array(1024);
  const ring: (Promise<unknown> | undefined)[] = new Array(window);
  const tStart = performance.now() + WARMUP_MS;
  const tEnd = tStart + seconds * 1000;
  let measuring = false;
  let t0 = 0;
  let cpu0 = process.cpuUsage();
  let acked = 0;
  let total = 0;
  for (let i = 0;; i++) {
    const slot = i % window;
    const prev = ring[slot];
    if (prev) {
      await prev;
      total++;
      if (measuring) acked++;
    }
    if (i % 256 === 0) {
      const now = performance.now();
      if (!measuring && now >= tStart) {
        measuring = true;
        t0 = now;
        cpu0 = process.cpuUsage();
      } else if (measuring && now >= tEnd) break;
    }
    ring[slot] = client.publish("bench.sdk.ts", payload);
  }
  const elapsed = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  for (const p of ring) {
    if (p) {
      await p;
      total++;
    }
  }
  await client.close();
  return {
    acked,
    seconds: elapsed,
    rate: acked / elapsed,
    cpu_us: (cpu.user + cpu.system) / acked,
    total,
  };
}

async function runLoad(
  node: { cpuSeconds(): number },
  cmd: string,
  args: string[],
): Promise<LoadResult> {
  const cpu0 = node.cpuSeconds();
  const [c, a] = pinned(LOAD_CPU, cmd, args);
  const out = await new Deno.Command(c, { args: a, stdout: "piped", stderr: "inherit" }).output();
  const text = new TextDecoder().decode(out.stdout).trim();
  if (out.code !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (${out.code}): ${text}`);
  const result: LoadResult = JSON.parse(text.split("\n").at(-1)!);
  result.node_us = (node.cpuSeconds() - cpu0) / result.total * 1e6;
  return result;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

if (Deno.args[0] === "ts-load") {
  const [, url, seconds, window] = Deno.args;
  console.log(JSON.stringify(await tsLoad(url, Number(seconds), Number(window))));
  Deno.exit(0);
}

const node = await startNodeProcess(["--memory"], SERVER_CPU);
const py: LoadResult[] = [];
const ts: LoadResult[] = [];
try {
  const self = new URL(import.meta.url).pathname;
  const script = new URL("sdk/python/bench/publish_load.py", root).pathname;
  for (let r = 1; r <= ROUNDS; r++) {
    const p = await runLoad(node, PYTHON, [script, node.wsUrl, String(SECONDS), String(WINDOW)]);
    const t = await runLoad(node, Deno.execPath(), [
      "run",
      "-A",
      self,
      "ts-load",
      node.wsUrl,
      String(SECONDS),
      String(WINDOW),
    ]);
    py.push(p);
    ts.push(t);
    console.log(
      `round ${r}: python ${Math.round(p.rate)} acked/s (client ${p.cpu_us.toFixed(1)} µs, ` +
        `node ${p.node_us!.toFixed(1)} µs CPU each), typescript ${Math.round(t.rate)} acked/s ` +
        `(client ${t.cpu_us.toFixed(1)} µs, node ${t.node_us!.toFixed(1)} µs CPU each)`,
    );
  }
} finally {
  await node.stop();
}
const pyRate = median(py.map((r) => r.rate));
const tsRate = median(ts.map((r) => r.rate));
const pyCpu = median(py.map((r) => r.cpu_us));
const tsCpu = median(ts.map((r) => r.cpu_us));
const pyNode = median(py.map((r) => r.node_us!));
const tsNode = median(ts.map((r) => r.node_us!));
const fmt = (n: number) => Math.round(n).toLocaleString("en-US").padStart(9);
const load = Deno.loadavg()[0].toFixed(1);
console.log(
  `\nacked 1 KB publishes/s (node on CPU ${SERVER_CPU}, load on CPU ${LOAD_CPU}, window ${WINDOW}, ` +
    `median of ${ROUNDS} x ${SECONDS} s, load average ${load})`,
);
console.log(`                  acked/s   CPU µs/publish: client     node`);
console.log(
  `  python SDK    ${fmt(pyRate)}   ${pyCpu.toFixed(1).padStart(21)} ${
    pyNode.toFixed(1).padStart(8)
  }`,
);
console.log(
  `  TypeScript    ${fmt(tsRate)}   ${tsCpu.toFixed(1).padStart(21)} ${
    tsNode.toFixed(1).padStart(8)
  }`,
);
console.log(`  python / ts   ${(pyRate / tsRate).toFixed(2).padStart(9)}`);
// On a shared machine the rates above follow the CPU share each process got; the CPU cost per
// publish does not. What one client could push with a core to itself, derived, not measured:
console.log(
  `  client-bound ceiling (1 s / client CPU per publish): python ${fmt(1e6 / pyCpu)}, ` +
    `TypeScript ${fmt(1e6 / tsCpu)}, node ${fmt(1e6 / pyNode)}`,
);
console.log(`  target: python >= 50,000 acked/s: ${pyRate >= 50_000 ? "met" : "NOT met"}`);
