/**
 * `deno task bench:operators`: what a Tier-Ω operator costs and gains, each figure beside its
 * peer from the same run (issue 12, item 12).
 *
 * (a) One operator hop, publish -> computation -> output delivered to a subscriber. The
 *     computation: parse a JSON input `{"i","v"}`, add `v` to a running sum kept in state,
 *     emit `{"sum","i"}`. In the node: the AssemblyScript operator bench/operators/assembly/
 *     sum.ts, built here with the operator build pipeline and installed with
 *     `PUT /v1/operators/bench-sum` in reality `op`. Outside: the same computation as users
 *     run it today, a separate Deno process with our client (bench/operators/load.ts
 *     `external`) subscribed in reality `ext`. Same node, same payloads, same subscriber.
 *     Figures: p50/p99 at a paced rate (10k inputs/s), and the maximum sustained rate (outputs
 *     delivered per second, closed loop with a bounded number of inputs in flight, no loss).
 * (b) Isolation: p99 of plain pub/sub (paced 5k/s) in reality `quiet`, first with no operator
 *     installed, then while the fuel-hungry operator bench/operators/assembly/burn.ts (sized
 *     to burn ~90% of its fuel per pulse) is kept busy in reality `hot` by a feeder process.
 *
 * Pinning (Linux, 2+ CPUs, unless --no-pin): the node process on CPU 1, every load process and
 * the external service on CPU 0 (bench/support.ts), and the node's operator Workers on CPU 0
 * too (`--operator-cpus 0`): the in-node computation gets the CPU the external service's
 * computation gets, and the node's CPU keeps routing, as `--operator-cpus` is meant to be
 * used. `--workers-on-node-cpu` leaves the Workers on the node's CPU (the layout before
 * 2026-12-08: the in-node side then computes on the CPU the ratio is measured against, the
 * external side does not). Each load process checks its outputs (every input answered once,
 * sums exact); a loss or a wrong sum fails the bench.
 *
 * The main node runs with `--memory` (operator state in the in-memory store); one more line
 * runs the max-rate pair on a node with `--data-dir`, where the operator commits its state to
 * disk per input pulse (skipped with --quick).
 *
 *   deno task bench:operators [--quick] [--seconds 2] [--rounds 2] [--no-pin]
 *                             [--workers-on-node-cpu] [--node-flags="..."]
 * @module
 */
import { helpFromHeader } from "../scripts/task_cli.ts";
import { parseArgs } from "node:util";
import { buildOperatorCached, OPERATOR_BUILD_DIR } from "../operators/build/mod.ts";
import { DEFAULT_LIMITS } from "../runtime/sandbox/mod.ts";
import { ArqonClient } from "../mod.ts";
import { CAN_PIN, LOAD_CPU, type NodeProcess, SERVER_CPU, startNodeProcess } from "./support.ts";
import { runRole } from "./operators/load.ts";
import {
  cpuOf,
  install,
  loadRoles,
  median,
  procCpu,
  remove,
  status,
  workerCpu,
} from "./operators/harness.ts";

helpFromHeader(import.meta.url); // `--help`: the usage above, exit 0

const { values, positionals } = parseArgs({
  args: Deno.args,
  allowPositionals: true,
  options: {
    quick: { type: "boolean", default: false },
    seconds: { type: "string" },
    rounds: { type: "string" },
    "no-pin": { type: "boolean", default: false },
    "workers-on-node-cpu": { type: "boolean", default: false },
    // Extra node flags for both nodes (the main one runs with --memory).
    "node-flags": { type: "string", default: "" },
    role: { type: "string" },
  },
});
const QUICK = values.quick;
const SECONDS = Number(values.seconds ?? (QUICK ? 0.5 : 2));
const WARMUP = QUICK ? 0.2 : 1;
const ROUNDS = Number(values.rounds ?? (QUICK ? 1 : 2));
const HOP_RATE = QUICK ? 2_000 : 10_000;
/** A rate both ways sustain on this machine, for the hop's own latency. */
const LOW_RATE = 1_000;
const PLAIN_RATE = QUICK ? 1_000 : 5_000;
/** Inputs in flight in the max-rate runs: deep enough to keep every stage busy. */
const WINDOW = 4096;
const PIN = !values["no-pin"] && CAN_PIN;
const serverCpu = PIN ? SERVER_CPU : null;
const loadCpu = PIN ? LOAD_CPU : null;
const here = new URL(import.meta.url).pathname;
const { runToEnd, startLongRole } = loadRoles(here, loadCpu);
const fmt = (n: number) => Math.round(n).toLocaleString("en-US");

interface Paced {
  sent: number;
  received: number;
  p50Ms: number;
  p99Ms: number;
  drainMs: number;
}

/** How a paced run ended: the last output's delay after the last input. */
const drained = (r: Paced) =>
  r.drainMs > 1000
    ? `; NOT SUSTAINED: backlog drained ${(r.drainMs / 1000).toFixed(1)} s after the last input`
    : `; last output ${r.drainMs.toFixed(0)} ms after the last input`;
interface Windowed {
  sent: number;
  received: number;
  perSecond: number;
}

const verdict = (met: boolean) => met ? "met" : "MISSED";

async function partA(node: NodeProcess, sumWasm: Uint8Array): Promise<void> {
  await install(node, "bench-sum", sumWasm, { reality: "op", inputs: ["nums.>"] });
  const external = await startLongRole(["external", node.wsUrl, "ext"]);
  const lat = { op: [] as Paced[], ext: [] as Paced[] };
  const rate = { op: [] as number[], ext: [] as number[] };
  const cpu = { op: [] as number[], ext: [] as number[] };
  const service: number[] = [];
  const workers: number[] = [];
  const hop = async (who: "op" | "ext", rate: number, label: string) => {
    const r = await runToEnd<Paced>([
      "paced",
      node.wsUrl,
      who,
      "sum",
      String(rate),
      String(SECONDS),
      String(WARMUP),
    ]);
    console.log(
      `  ${label} ${who === "op" ? "in-node " : "external"} @ ${fmt(rate)}/s   p50 ${
        r.p50Ms.toFixed(3)
      } ms   p99 ${r.p99Ms.toFixed(3)} ms   (${fmt(r.received)}/${fmt(r.sent)} outputs, sums exact${
        drained(r)
      })`,
    );
    return r;
  };
  let low: { op: Paced; ext: Paced } | null = null;
  try {
    for (let round = 0; round < ROUNDS; round++) {
      // Alternate who goes first, so a busy moment on the shared machine hits both.
      const order = round % 2 === 0 ? ["op", "ext"] as const : ["ext", "op"] as const;
      for (const who of order) lat[who].push(await hop(who, HOP_RATE, `round ${round + 1}`));
      for (const who of order) {
        const r = await maxRate(node, who, WINDOW, SECONDS, who === "ext" ? external.pid : 0);
        rate[who].push(r.perSecond);
        cpu[who].push(r.cpuUs);
        if (who === "ext") service.push(r.serviceUs);
        else workers.push(r.workersUs);
        console.log(
          `  round ${round + 1} ${who === "op" ? "in-node " : "external"} max rate` +
            `   ${fmt(r.perSecond)} outputs/s   CPU/output: node ${r.cpuUs.toFixed(1)} µs${
              who === "ext"
                ? ` + service ${r.serviceUs.toFixed(1)} µs`
                : ` (of which the operator's Worker ${r.workersUs.toFixed(1)} µs)`
            }   (${fmt(r.received)}/${fmt(r.sent)} outputs, sums exact)`,
        );
      }
    }
    // The hop alone, at a rate both ways sustain: what the latency is once throughput is not
    // the limit.
    if (!QUICK) {
      low = {
        op: await hop("op", LOW_RATE, "once   "),
        ext: await hop("ext", LOW_RATE, "once   "),
      };
    }
  } finally {
    const ext = await external.stop<{ handled: number }>();
    console.log(`  external service handled ${fmt(ext.handled)} inputs`);
  }
  const st = await status(node, "bench-sum");
  if (st.counters.failures !== 0) throw new Error(`bench-sum failed ${st.counters.failures}x`);
  console.log(
    `  bench-sum operator: ${fmt(st.counters.pulsesIn)} in, ${fmt(st.counters.pulsesOut)} out,` +
      ` handle p50 ${(st.handle_ms.p50 * 1000).toFixed(1)} µs p99 ${
        (st.handle_ms.p99 * 1000).toFixed(1)
      } µs, ${fmt(st.counters.fuelUsed / Math.max(1, st.counters.pulsesIn))} fuel/pulse`,
  );
  await remove(node, "bench-sum");
  const p50 = { op: median(lat.op.map((r) => r.p50Ms)), ext: median(lat.ext.map((r) => r.p50Ms)) };
  const p99 = { op: median(lat.op.map((r) => r.p99Ms)), ext: median(lat.ext.map((r) => r.p99Ms)) };
  const max = { op: median(rate.op), ext: median(rate.ext) };
  const m = ROUNDS > 1 ? ` (median of ${ROUNDS})` : "";
  console.log(
    `(a) hop p50 @ ${fmt(HOP_RATE)}/s   in-node ${p50.op.toFixed(3)} ms   external ${
      p50.ext.toFixed(3)
    } ms   ratio ${(p50.op / p50.ext).toFixed(2)}   target <= 0.50   ${
      verdict(p50.op <= 0.5 * p50.ext)
    }${m}`,
  );
  console.log(
    `(a) hop p99 @ ${fmt(HOP_RATE)}/s   in-node ${p99.op.toFixed(3)} ms   external ${
      p99.ext.toFixed(3)
    } ms   ratio ${(p99.op / p99.ext).toFixed(2)}${m}`,
  );
  if (low) {
    console.log(
      `(a) hop p50 @ ${fmt(LOW_RATE)}/s    in-node ${low.op.p50Ms.toFixed(3)} ms   external ${
        low.ext.p50Ms.toFixed(3)
      } ms   ratio ${(low.op.p50Ms / low.ext.p50Ms).toFixed(2)}   (p99 ${
        low.op.p99Ms.toFixed(3)
      } vs ${low.ext.p99Ms.toFixed(3)} ms; one run, a rate both sustain)`,
    );
  }
  console.log(
    `(a) max rate          in-node ${fmt(max.op)}/s   external ${fmt(max.ext)}/s   ratio ${
      (max.op / max.ext).toFixed(2)
    }   target >= 1.00   ${verdict(max.op >= max.ext)}${m}`,
  );
  // The Worker's share is the operator's computation, as the service's CPU is the external
  // side's: "rest" is what the node's other threads spent on each output.
  const w = median(workers);
  console.log(
    `(a) CPU per output    in-node: node ${median(cpu.op).toFixed(1)} µs = Worker ${
      w.toFixed(1)
    } + rest ${(median(cpu.op) - w).toFixed(1)} µs   external: node ${
      median(cpu.ext).toFixed(1)
    } µs + service ${median(service).toFixed(1)} µs   ratios: rest/node ${
      ((median(cpu.op) - w) / median(cpu.ext)).toFixed(2)
    }, total ${(median(cpu.op) / (median(cpu.ext) + median(service))).toFixed(2)}${m}`,
  );
}

const burnManifest = (iters: number) => ({
  reality: "hot",
  inputs: ["burn.in"],
  config: { iters },
});

/** Rounds of the burner's loop that use ~90% of the default fuel budget per pulse. */
async function sizeBurner(node: NodeProcess, burnWasm: Uint8Array): Promise<number> {
  const probe = 20_000;
  await install(node, "bench-burn", burnWasm, burnManifest(probe));
  const client = await ArqonClient.connect(node.wsUrl, { name: "bench-probe", reconnect: false });
  let got = 0;
  const sub = client.subscribe("burn.out", { reality: "hot", onPulse: () => got++ });
  await sub.ready;
  for (let i = 0; i < 5; i++) client.publish("burn.in", "{}", { reality: "hot", ack: "none" });
  const end = Date.now() + 10_000;
  while (got < 5 && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
  await client.close();
  const st = await status(node, "bench-burn");
  await remove(node, "bench-burn");
  const perPulse = st.counters.fuelUsed / Math.max(1, st.counters.pulsesIn);
  if (got < 5 || !(perPulse > 0)) throw new Error("the fuel probe got no outputs");
  return Math.floor(probe * 0.9 * DEFAULT_LIMITS.fuelPerCall / perPulse);
}

/**
 * Lowers the node's Worker threads (Deno names them `worker-<n>`) to nice 19: what an
 * operator Worker that lowered its own priority would give. False when it cannot.
 */
async function niceWorkers(node: NodeProcess): Promise<boolean> {
  try {
    const tids: string[] = [];
    for (const e of Deno.readDirSync(`/proc/${node.pid}/task`)) {
      const comm = Deno.readTextFileSync(`/proc/${node.pid}/task/${e.name}/comm`).trim();
      if (comm.startsWith("worker-")) tids.push(e.name);
    }
    if (tids.length === 0) return false;
    const out = await new Deno.Command("renice", { args: ["-n", "19", "-p", ...tids] }).output();
    return out.success;
  } catch {
    return false;
  }
}

async function partB(node: NodeProcess, burnWasm: Uint8Array): Promise<void> {
  const plain = () =>
    runToEnd<Paced>([
      "paced",
      node.wsUrl,
      "quiet",
      "plain",
      String(PLAIN_RATE),
      String(SECONDS),
      String(WARMUP),
    ]);
  const iters = await sizeBurner(node, burnWasm);
  const quiet: number[] = [];
  const loaded: number[] = [];
  const niced: number[] = [];
  const line = (r: Paced) => `p50 ${r.p50Ms.toFixed(3)} p99 ${r.p99Ms.toFixed(3)} ms`;
  for (let round = 0; round < ROUNDS; round++) {
    const a = await plain();
    quiet.push(a.p99Ms);
    await install(node, "bench-burn", burnWasm, burnManifest(iters));
    const feeder = await startLongRole(["feed", node.wsUrl, "hot", "64"]);
    let b: Paced;
    let c: Paced | null = null;
    try {
      b = await plain();
      if (!QUICK && await niceWorkers(node)) c = await plain();
    } finally {
      await feeder.stop();
    }
    loaded.push(b.p99Ms);
    if (c) niced.push(c.p99Ms);
    const st = await status(node, "bench-burn");
    await remove(node, "bench-burn");
    if (st.counters.failures !== 0) throw new Error(`bench-burn failed ${st.counters.failures}x`);
    const share = st.counters.fuelUsed / st.counters.pulsesIn / DEFAULT_LIMITS.fuelPerCall;
    console.log(
      `  round ${round + 1} plain @ ${fmt(PLAIN_RATE)}/s   no operator ${line(a)}   burner busy ${
        line(b)
      }${c ? `   burner at nice 19 ${line(c)}` : ""}\n            (burner: ${
        fmt(iters)
      } rounds/pulse = ${(share * 100).toFixed(0)}% of ${
        fmt(DEFAULT_LIMITS.fuelPerCall)
      } fuel, handle p50 ${st.handle_ms.p50.toFixed(2)} ms, ${fmt(st.counters.pulsesIn)} pulses)`,
    );
  }
  const q = median(quiet);
  const l = median(loaded);
  const m = ROUNDS > 1 ? ` (median of ${ROUNDS})` : "";
  console.log(
    `(b) plain p99 @ ${fmt(PLAIN_RATE)}/s   no operator ${q.toFixed(3)} ms   burner busy in ` +
      `another reality ${l.toFixed(3)} ms   ratio ${(l / q).toFixed(2)}   target <= 2.00   ${
        verdict(l <= 2 * q)
      }${m}`,
  );
  if (niced.length > 0) {
    const n = median(niced);
    console.log(
      `(b) same, the operator's Worker thread reniced to 19 (a fix to consider)   ${
        n.toFixed(3)
      } ms   ratio ${(n / q).toFixed(2)}${m}`,
    );
  }
}

/**
 * A closed-loop max-rate run of `who` (`op` or `ext`), with the node's CPU per output and,
 * given the external service's process id, the service's CPU per output.
 */
async function maxRate(
  node: NodeProcess,
  who: string,
  window: number,
  seconds = SECONDS,
  servicePid?: number,
) {
  const s0 = servicePid ? procCpu(servicePid) : NaN;
  const w0 = workerCpu(node.pid);
  const [r, secs] = await cpuOf(node, () =>
    runToEnd<Windowed>([
      "window",
      node.wsUrl,
      who,
      String(seconds),
      String(WARMUP),
      String(window),
    ]));
  const service = servicePid ? procCpu(servicePid) - s0 : 0;
  const workers = workerCpu(node.pid) - w0;
  return {
    ...r,
    cpuUs: secs / r.received * 1e6,
    serviceUs: service / r.received * 1e6,
    /** Of `cpuUs`, the node's Worker threads (the operator's computation). */
    workersUs: workers / r.received * 1e6,
  };
}

/**
 * The same hop on a node with a data directory: the operator commits its state to disk per
 * input pulse, the external service keeps it in memory, as such services usually do.
 */
async function partDisk(sumWasm: Uint8Array): Promise<void> {
  const dataDir = await Deno.makeTempDir({ prefix: "arqon-opbench-" });
  const node = await startNodeProcess(["--data-dir", dataDir, ...extraFlags], serverCpu);
  try {
    await install(node, "bench-sum", sumWasm, { reality: "op", inputs: ["nums.>"] });
    const external = await startLongRole(["external", node.wsUrl, "ext"]);
    try {
      // A small window: each in-flight input costs the operator a disk commit to drain.
      const op = await maxRate(node, "op", 256, 2);
      const ext = await maxRate(node, "ext", 256, 2);
      console.log(
        `(a) max rate, --data-dir node   in-node ${fmt(op.perSecond)}/s   external ${
          fmt(ext.perSecond)
        }/s   ratio ${(op.perSecond / ext.perSecond).toFixed(2)}   node CPU/output in-node ${
          op.cpuUs.toFixed(1)
        } µs external ${ext.cpuUs.toFixed(1)} µs   (256 in flight)`,
      );
    } finally {
      await external.stop();
    }
  } finally {
    await node.stop();
    await Deno.remove(dataDir, { recursive: true });
  }
}

/** Where the operator Workers run: the load's CPU (as the external service), unless told. */
const WORKER_CPU = PIN && !values["workers-on-node-cpu"] ? LOAD_CPU : null;
const extraFlags = [
  ...(WORKER_CPU === null ? [] : ["--operator-cpus", WORKER_CPU]),
  ...values["node-flags"]!.split(" ").filter((f) => f && f !== "--memory"),
];

async function main(): Promise<void> {
  const t0 = performance.now();
  const src = new URL("operators/assembly/", import.meta.url).pathname;
  const sumWasm = await buildOperatorCached(`${src}sum.ts`, `${OPERATOR_BUILD_DIR}bench/sum.wasm`);
  const burnWasm = await buildOperatorCached(
    `${src}burn.ts`,
    `${OPERATOR_BUILD_DIR}bench/burn.wasm`,
  );
  console.log(
    `node --memory ${
      extraFlags.map((f) => f + " ").join("")
    }(and one --data-dir line), ${SECONDS} s per ` +
      `measurement after ${WARMUP} s warm-up, ${ROUNDS} round(s), ${
        PIN
          ? `node on CPU ${SERVER_CPU}, load + external service on CPU ${LOAD_CPU}, operator ` +
            `Workers on CPU ${WORKER_CPU ?? SERVER_CPU}`
          : "unpinned"
      }${QUICK ? ", QUICK" : ""}`,
  );
  const node = await startNodeProcess(["--memory", ...extraFlags], serverCpu);
  try {
    await partA(node, sumWasm);
    await partB(node, burnWasm);
  } finally {
    await node.stop();
  }
  if (!QUICK) await partDisk(sumWasm);
  console.log(`total ${((performance.now() - t0) / 1000).toFixed(0)} s`);
}

if (values.role !== undefined) await runRole([values.role, ...positionals]);
else await main();
