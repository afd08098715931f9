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

helpFromHeader(import.meta.url); // `--help`: the usage above, exit 0

const DIM = 384;

/** A deterministic generator: the same embeddings every run. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32 - 0.5;
  };
}

function unit(v: Float32Array): Float32Array {
  let n = 0;
  for (const x of v) n += x * x;
  n = Math.sqrt(n);
  for (let i = 0; i < v.length; i++) v[i] /= n;
  return v;
}

/** `n` embeddings around 1,000 centres, and `q` queries near random embeddings. */
function dataset(n: number, q: number): { rows: Float32Array[]; queries: Float32Array[] } {
  const next = rng(42);
  const centres = Array.from(
    { length: 1000 },
    () => unit(Float32Array.from({ length: DIM }, next)),
  );
  const rows: Float32Array[] = [];
  for (let i = 0; i < n; i++) {
    const c = centres[i % centres.length];
    rows.push(unit(Float32Array.from(c, (x) => x + 0.08 * next())));
  }
  const queries: Float32Array[] = [];
  for (let i = 0; i < q; i++) {
    const r = rows[Math.floor((next() + 0.5) * n) % n];
    queries.push(unit(Float32Array.from(r, (x) => x + 0.04 * next())));
  }
  return { rows, queries };
}

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

/** Warms up, then routes every query; the warm-up is the first 10% of the queries. */
function timed(spine: Spine, queries: Float32Array[]): Pass {
  route(spine, queries.slice(0, Math.max(20, queries.length / 10)));
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
  const e = timed(exact.spine, queries);
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
    const a = timed(approx.spine, queries);
    let agree = 0;
    for (let i = 0; i < q; i++) if (a.chosen[i] === e.chosen[i]) agree++;
    lines.push(
      `n=${n}: graph ${perPulse(a)}, recall@1 ${(agree / q).toFixed(3)} ` +
        `(target: ≤50 µs, ≥0.95; ${(e.us / a.us).toFixed(0)}x faster than exact)`,
    );
  }
  return lines;
}

if (import.meta.main) {
  const sizes = (Deno.args[0] ?? "10,1000,100000").split(",").map(Number);
  const q = Number(Deno.args[1] ?? 500);
  console.log(
    `anycast routing, dim ${DIM}, ${q} queries, k=1 (node's default: exact up to 2048); ` +
      `load average ${Deno.loadavg().map((x) => x.toFixed(1)).join(" ")}`,
  );
  for (const n of sizes) for (const line of await measure(n, q)) console.log(line);
}
