/**
 * Semantic anycast routing cost (issue 16 item 8b): per anycast pulse, with 10, 1,000 and
 * 100,000 registered embeddings of dimension 384, through the Spine in process (no
 * sockets: validation, nearest search, stamping, queueing), and recall@1 of the HNSW graph
 * against exact search on the same embeddings and queries. Target: at most 50 µs per pulse
 * at 100,000 with recall@1 at least 0.95. Each figure is wall time and, beside it, the
 * process's CPU time per pulse (on a shared machine the wall time includes waiting for a
 * core).
 *
 * The embeddings are synthetic: 1,000 capability clusters (unit centres) with agents
 * spread around them, and queries near a random agent's capability, the shape of "route
 * this task to whoever does it best". Each agent registers one embedding on its own
 * subscription of `agents.task`.
 *
 *   deno run -A bench/agents/anycast.ts [sizes, default 10,1000,100000] [queries, default 500]
 * @module
 */
import { ANN_PARAMS, DEFAULT_REALITY, Spine, type Subscription } from "../../runtime/spine/mod.ts";
import { NodeMetrics } from "../../runtime/telemetry/mod.ts";
import { helpFromHeader } from "../../scripts/task_cli.ts";
import process from "node:process";
import { dataset, DIM } from "./anycast_data.ts";

helpFromHeader(import.meta.url); // `--help`: the usage above, exit 0

const owner = { wake() {}, overflowed() {} };

/** A Spine holding `rows` as anycast subscriptions; `exactMax` picks exact or graph search. */
async function spineWith(rows: Float32Array[], exactMax: number) {
  const spine = new Spine({
    metrics: new NodeMetrics(),
    // Queues hold one delivery: the bench measures routing, not memory growth.
    queue: { maxMessages: 1, maxBytes: 1 << 20, overflow: "drop-oldest" },
    anycast: { maxPerReality: rows.length, exactMax },
  });
  spine.anycast.dimension = () => DIM;
  const subs: Subscription[] = [];
  for (let i = 0; i < rows.length; i++) {
    subs.push(spine.subscribe(owner, {
      id: i + 1,
      pattern: "agents.task",
      anycast: { vectors: [rows[i]] },
    }));
  }
  await spine.anycast.of(DEFAULT_REALITY).indexOf(DIM)?.settled();
  return { spine, subs };
}

/** One routing pass: wall and CPU time per pulse, and the subscription chosen for each. */
interface Pass {
  readonly us: number;
  readonly cpuUs: number;
  readonly chosen: number[];
}

/** Routes every query as an anycast publish; returns µs per pulse and the chosen ids. */
function route(spine: Spine, queries: Float32Array[]): Pass {
  const payload = new Uint8Array(64);
  const chosen: number[] = [];
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  for (const vector of queries) {
    const stamped = spine.publish(
      { topic: "agents.task", payload },
      "bench",
      undefined,
      undefined,
      { vector, k: 1 },
    );
    if (stamped instanceof Promise) throw new Error("no guard: publish is synchronous");
    const [sub] = stamped.anycast!.keys() as Iterable<Subscription>;
    chosen.push(sub.spec.id);
  }
  const us = (performance.now() - t0) * 1000 / queries.length;
  const cpu = process.cpuUsage(c0);
  return { us, cpuUs: (cpu.user + cpu.system) / queries.length, chosen };
}

function perPulse(p: Pass): string {
  return `${p.us.toFixed(1)} µs/pulse (CPU ${p.cpuUs.toFixed(1)} µs)`;
}

/**
 * Routes `warm` pulses (cycling through the queries) so the JIT has compiled the path,
 * then every query once, timed. A short warm-up leaves the figure of a small index several
 * times too high (interpreted code).
 */
function timed(spine: Spine, queries: Float32Array[], warm: number): Pass {
  const warmUp: Float32Array[] = [];
  for (let i = 0; i < warm; i++) warmUp.push(queries[i % queries.length]);
  route(spine, warmUp);
  return route(spine, queries);
}

/**
 * Measures one size: exact search always, and past the node's threshold (2,048) the
 * graph the node would use, with recall@1 against the exact choice for the same queries.
 */
export async function measure(n: number, q: number): Promise<string[]> {
  const { rows, queries } = dataset(n, q);
  const lines: string[] = [];
  const exact = await spineWith(rows, Infinity);
  // Exact search at 100,000 takes milliseconds a pulse: its loop is hot after a few.
  const e = timed(exact.spine, queries, Math.max(20, Math.min(2000, 2e6 / n)));
  lines.push(`n=${n}: exact ${perPulse(e)}`);
  if (n > 2048) {
    const t0 = performance.now();
    const approx = await spineWith(rows, 2048);
    const buildS = (performance.now() - t0) / 1000;
    const index = approx.spine.anycast.of(DEFAULT_REALITY).indexOf(DIM)!;
    if (!index.approximate) throw new Error("the graph did not load (usearch addon)");
    lines.push(
      `n=${n}: graph (usearch ${ANN_PARAMS.quantization}, M ${ANN_PARAMS.connectivity}, ` +
        `ef ${ANN_PARAMS.expansionSearch}) built by ${n} joins in ${buildS.toFixed(1)} s, ` +
        `RSS ${Math.round(Deno.memoryUsage().rss / 2 ** 20)} MiB`,
    );
    const a = timed(approx.spine, queries, 2000);
    let agree = 0;
    for (let i = 0; i < q; i++) if (a.chosen[i] === e.chosen[i]) agree++;
    lines.push(
      `n=${n}: graph ${perPulse(a)}, recall@1 ${(agree / q).toFixed(3)} ` +
        `(target: ≤50 µs, ≥0.95; ${(e.us / a.us).toFixed(0)}x faster than exact)`,
    );
  }
  return lines;
}

/**
 * A plain dot-product loop's CPU time per multiply-add: how much this machine's load slows
 * the process (the same loop took ~1.2 ns on this machine idle), to read the figures by.
 */
function calibrate(): string {
  const a = new Float32Array(DIM).fill(0.5);
  const rows = new Float32Array(DIM * 1000).fill(0.25);
  let sum = 0;
  const pass = () => {
    for (let r = 0; r < 1000; r++) {
      const base = r * DIM;
      for (let i = 0; i < DIM; i++) sum += a[i] * rows[base + i];
    }
  };
  for (let i = 0; i < 5; i++) pass();
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < 50; i++) pass();
  const cpu = process.cpuUsage(c0);
  const ops = 50 * 1000 * DIM;
  return `calibration: a plain JS dot product, ${
    ((cpu.user + cpu.system) * 1000 / ops).toFixed(2)
  } ns CPU (${((performance.now() - t0) * 1e6 / ops).toFixed(2)} ns wall) per multiply-add ` +
    `(idle: ~1.2; checksum ${sum.toExponential(2)})`;
}

if (import.meta.main) {
  const sizes = (Deno.args[0] ?? "10,1000,100000").split(",").map(Number);
  const q = Number(Deno.args[1] ?? 500);
  console.log(
    `anycast routing, dim ${DIM}, ${q} queries, k=1 (node's default: exact up to 2048); ` +
      `load average ${Deno.loadavg().map((x) => x.toFixed(1)).join(" ")}`,
  );
  console.log(calibrate());
  for (const n of sizes) for (const line of await measure(n, q)) console.log(line);
}
