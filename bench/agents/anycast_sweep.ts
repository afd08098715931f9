/**
 * The sweep behind the anycast graph's parameters (`ANN_PARAMS`, docs/anycast.md): usearch
 * alone, at `n` clustered embeddings of dimension 384 (the data of bench/agents/anycast.ts),
 * for each graph (quantization, links per node M, insert breadth efAdd) and search breadth
 * ef: recall@1 against exact search, and wall and CPU time per single-query search on one
 * thread. Each graph is built once (batch insertion on 2 threads) and saved to a temporary
 * file; each ef loads it into an index made with that breadth (usearch fixes ef when an
 * index is made). The truth is usearch's exact (brute-force, SIMD) search in float32.
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
import { helpFromHeader } from "../../scripts/task_cli.ts";
import { dataset, DIM } from "./anycast_data.ts";

helpFromHeader(import.meta.url); // `--help`: the usage above, exit 0

const n = Number(Deno.args[0] ?? 100_000);
const graphs = (Deno.args[1] ?? "i8:16:128,i8:16:256").split(",");
const efs = (Deno.args[2] ?? "6,8,16").split(",").map(Number);
const q = Number(Deno.args[3] ?? 1000);
const ROUNDS = 5;

const { rows, queries } = dataset(n, q);
const flat = new Float32Array(n * DIM);
rows.forEach((r, i) => flat.set(r, i * DIM));
const flatQueries = new Float32Array(q * DIM);
queries.forEach((r, i) => flatQueries.set(r, i * DIM));
const exact = exactSearch(flat, flatQueries, DIM, 1, MetricKind.IP, 2);
const truth = Array.from({ length: q }, (_, i) => Number(exact.keys[i]));

const loadavg = () => Deno.loadavg().map((x) => x.toFixed(1)).join(" ");
console.log(`usearch sweep: n ${n}, dim ${DIM}, ${q} queries, load average ${loadavg()}`);

interface Setting {
  readonly label: string;
  readonly index: Index;
  agree: number;
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
    built.add(BigUint64Array.from({ length: n }, (_, i) => BigInt(i)), flat, 2);
    console.log(
      `${graph}: built in ${((performance.now() - t0) / 1000).toFixed(0)} s on 2 threads ` +
        `(load ${loadavg()})`,
    );
    built.save(path);
    for (const ef of efs) {
      const index = make(ef);
      index.load(path);
      const label = `${quantization} M ${m} efAdd ${efAdd} ef ${ef}`;
      settings.push({ label, index, agree: 0, wall: [], cpu: [] });
    }
  }
  for (const s of settings) {
    for (let i = 0; i < Math.min(q, 200); i++) s.index.search(queries[i], 1, 1);
  }
  for (let round = 0; round < ROUNDS; round++) {
    const wall = new Float64Array(settings.length);
    const cpu = new Float64Array(settings.length);
    for (let i = 0; i < q; i++) {
      for (let j = 0; j < settings.length; j++) {
        const s = settings[j];
        const c0 = process.cpuUsage();
        const t0 = performance.now();
        // k 4: what the node asks the graph for at k 1 (2k + 2, anycast.ts).
        const found = s.index.search(queries[i], 4, 1);
        wall[j] += performance.now() - t0;
        const c = process.cpuUsage(c0);
        cpu[j] += c.user + c.system;
        if (round === 0 && Number(found.keys[0]) === truth[i]) s.agree++;
      }
    }
    settings.forEach((s, j) => {
      s.wall.push(wall[j] * 1000 / q);
      s.cpu.push(cpu[j] / q);
    });
  }
  const mid = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  for (const s of settings) {
    console.log(
      `${s.label}: recall@1 ${(s.agree / q).toFixed(3)}, ${mid(s.wall).toFixed(1)} µs/search ` +
        `(CPU ${mid(s.cpu).toFixed(1)} µs)`,
    );
  }
  console.log(`load average at the end: ${loadavg()}`);
} finally {
  await Deno.remove(dir, { recursive: true });
}
