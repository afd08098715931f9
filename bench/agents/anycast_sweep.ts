/**
 * The sweep behind the anycast graph's parameters (`ANN_PARAMS`, docs/anycast.md): usearch
 * alone, at `n` clustered embeddings of dimension 384 (the data of bench/agents/anycast.ts),
 * for each graph (quantization, links per node M, insert breadth efAdd) and search breadth
 * ef: recall@1 against exact search, and wall and CPU time per single-query search on one
 * thread. Each search asks for the hits the node's first graph search asks for at k 1
 * (`firstAsk`) and, as the node does, rescores them in float32: recall@1 is given for the
 * graph's own first hit and after the rescoring (what the node delivers); the time is the
 * graph's search alone. Each graph is built once and saved to a temporary file: by default
 * one vector at a time in order on one thread, as the node's joins insert them (the graph
 * bench/agents/anycast.ts builds: the same graph every run), or with `threads` 2 in one
 * batch on 2 threads (faster; the graph differs run to run). Each ef loads it into an index
 * made with that breadth (usearch fixes ef when an index is made). The truth is usearch's
 * exact (brute-force, SIMD) search in float32.
 *
 * The machine is shared: load comes and goes within seconds. So every setting answers the
 * same query in turn (query 1 on every setting, then query 2, ...), in 5 rounds of the
 * queries; each setting's time is the middle of its 5 rounds' totals, and all settings
 * see the same load. The price: each search finds the caches filled by the other
 * settings' graphs, so the times are higher than one graph's alone (bench/agents/anycast.ts
 * measures the node's); they compare the settings with each other.
 *
 *   deno run -A bench/agents/anycast_sweep.ts [n, default 100000] [graphs, default
 *     i8:16:128,i8:16:256] [efs, default 6,8,16] [queries, default 1000]
 * @module
 */
import process from "node:process";
import { exactSearch, Index, MetricKind, type ScalarKind } from "usearch";
import { firstAsk } from "../../runtime/spine/mod.ts";
import { helpFromHeader } from "../../scripts/task_cli.ts";
import { dataset, DIM } from "./anycast_data.ts";

helpFromHeader(import.meta.url); // `--help`: the usage above, exit 0

const n = Number(Deno.args[0] ?? 100_000);
const graphs = (Deno.args[1] ?? "i8:16:256").split(",");
const efs = (Deno.args[2] ?? "4,5,6,7,8").split(",").map(Number);
const q = Number(Deno.args[3] ?? 1000);
const threads = Number(Deno.args[4] ?? 1);
const alone = Deno.args[5] === "alone";
const ROUNDS = 5;
/** Hits per search: what the node's first graph search asks for at k 1. */
const HITS = firstAsk(1);

const { rows, queries } = dataset(n, q);
const flat = new Float32Array(n * DIM);
rows.forEach((r, i) => flat.set(r, i * DIM));
const flatQueries = new Float32Array(q * DIM);
queries.forEach((r, i) => flatQueries.set(r, i * DIM));
const exact = exactSearch(flat, flatQueries, DIM, 1, MetricKind.IP, 2);
const truth = Array.from({ length: q }, (_, i) => Number(exact.keys[i]));

/** The hit of `keys` nearest to query `i` by float32 dot product (the node's rescoring). */
function rescored(i: number, keys: BigUint64Array): number {
  let best = -1;
  let bestScore = -Infinity;
  for (const key of keys) {
    const row = Number(key) * DIM;
    let s = 0;
    for (let d = 0; d < DIM; d++) s += flatQueries[i * DIM + d] * flat[row + d];
    if (s > bestScore) [best, bestScore] = [Number(key), s];
  }
  return best;
}

const loadavg = () => Deno.loadavg().map((x) => x.toFixed(1)).join(" ");
console.log(
  `usearch sweep: n ${n}, dim ${DIM}, ${q} queries, ${HITS} hits a search, ` +
    `${alone ? "each setting alone" : "settings in turn"}, load average ${loadavg()}`,
);

interface Setting {
  readonly label: string;
  readonly index: Index;
  agree: number;
  agreeRescored: number;
  readonly wall: number[];
  readonly cpu: number[];
}

const settings: Setting[] = [];
const dir = await Deno.makeTempDir();
try {
  for (const graph of graphs) {
    const [quantization, m, efAdd] = graph.split(":");
    const make = (ef: number) =>
      new Index({
        dimensions: DIM,
        metric: MetricKind.IP,
        quantization: quantization as ScalarKind,
        connectivity: Number(m),
        expansion_add: Number(efAdd),
        expansion_search: ef,
        multi: false,
      });
    const path = `${dir}/${quantization}-${m}-${efAdd}.usearch`;
    const built = make(efs[0]);
    const t0 = performance.now();
    if (threads === 1) {
      // One join at a time, in slot order: the node's graph.
      const key = new BigUint64Array(1);
      for (let i = 0; i < n; i++) {
        key[0] = BigInt(i);
        built.add(key, flat.subarray(i * DIM, (i + 1) * DIM), 1);
      }
    } else {
      built.add(BigUint64Array.from({ length: n }, (_, i) => BigInt(i)), flat, threads);
    }
    console.log(
      `${graph}: built in ${((performance.now() - t0) / 1000).toFixed(0)} s on ${threads} ` +
        `thread(s) (load ${loadavg()})`,
    );
    built.save(path);
    for (const ef of efs) {
      const index = make(ef);
      index.load(path);
      const label = `${quantization} M ${m} efAdd ${efAdd} ef ${ef}`;
      settings.push({ label, index, agree: 0, agreeRescored: 0, wall: [], cpu: [] });
    }
  }
  for (const s of settings) {
    for (let i = 0; i < Math.min(q, 200); i++) s.index.search(queries[i], 1, 1);
  }
  /** One round of `group` (every query on each, in turn): adds each one's mean times. */
  const round = (group: Setting[], first: boolean) => {
    const wall = new Float64Array(group.length);
    const cpu = new Float64Array(group.length);
    for (let i = 0; i < q; i++) {
      for (let j = 0; j < group.length; j++) {
        const s = group[j];
        const c0 = process.cpuUsage();
        const t0 = performance.now();
        const found = s.index.search(queries[i], HITS, 1);
        wall[j] += performance.now() - t0;
        const c = process.cpuUsage(c0);
        cpu[j] += c.user + c.system;
        if (!first) continue;
        if (Number(found.keys[0]) === truth[i]) s.agree++;
        if (rescored(i, found.keys) === truth[i]) s.agreeRescored++;
      }
    }
    group.forEach((s, j) => {
      s.wall.push(wall[j] * 1000 / q);
      s.cpu.push(cpu[j] / q);
    });
  };
  if (alone) {
    for (const s of settings) for (let r = 0; r < ROUNDS; r++) round([s], r === 0);
  } else {
    for (let r = 0; r < ROUNDS; r++) round(settings, r === 0);
  }
  const mid = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  for (const s of settings) {
    console.log(
      `${s.label}: recall@1 ${(s.agree / q).toFixed(3)} (rescored ` +
        `${(s.agreeRescored / q).toFixed(3)}), ${mid(s.wall).toFixed(1)} µs/search ` +
        `(CPU ${mid(s.cpu).toFixed(1)} µs), ${HITS} hits`,
    );
  }
  console.log(`load average at the end: ${loadavg()}`);
} finally {
  await Deno.remove(dir, { recursive: true });
}
