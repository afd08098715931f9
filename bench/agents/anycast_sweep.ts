/**
 * The sweep behind the anycast graph's parameters (`ANN_PARAMS`, docs/anycast.md): usearch
 * alone, at `n` clustered embeddings of dimension 384 (the data of bench/agents/anycast.ts),
 * for each graph (quantization, links per node M, insert breadth) and search breadth ef:
 * recall@1 against exact search, and wall and CPU time per single-query search on one
 * thread. Each graph is built once (batch insertion on 2 threads) and saved to a temporary
 * file; each ef loads it into an index made with that breadth (usearch fixes ef when an
 * index is made).
 *
 *   deno run -A bench/agents/anycast_sweep.ts [n, default 100000] [graphs, default
 *     i8:16:128,f16:16:128,i8:8:128] [efs, default 8,16,32,64] [queries, default 1000]
 * @module
 */
import process from "node:process";
import { Index, MetricKind, type ScalarKind } from "usearch";
import { helpFromHeader } from "../../scripts/task_cli.ts";
import { dataset, DIM } from "./anycast_data.ts";

helpFromHeader(import.meta.url); // `--help`: the usage above, exit 0

const n = Number(Deno.args[0] ?? 100_000);
const graphs = (Deno.args[1] ?? "i8:16:128,f16:16:128,i8:8:128").split(",");
const efs = (Deno.args[2] ?? "8,16,32,64").split(",").map(Number);
const q = Number(Deno.args[3] ?? 1000);

const { rows, queries } = dataset(n, q);
const flat = new Float32Array(n * DIM);
rows.forEach((r, i) => flat.set(r, i * DIM));

// The exact answer of each query: a plain scan.
const truth = queries.map((query) => {
  let best = -2;
  let at = -1;
  for (let r = 0; r < n; r++) {
    let s = 0;
    const base = r * DIM;
    for (let i = 0; i < DIM; i++) s += query[i] * flat[base + i];
    if (s > best) [best, at] = [s, r];
  }
  return at;
});

console.log(
  `usearch sweep: n ${n}, dim ${DIM}, ${q} queries, load average ${
    Deno.loadavg().map((x) => x.toFixed(1)).join(" ")
  }`,
);
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
    const buildUs = (performance.now() - t0) * 1000 / n;
    built.save(path);
    for (const ef of efs) {
      const index = make(ef);
      index.load(path);
      for (let i = 0; i < Math.min(q, 200); i++) index.search(queries[i], 1, 1);
      let agree = 0;
      const c0 = process.cpuUsage();
      const t1 = performance.now();
      for (let i = 0; i < q; i++) {
        if (Number(index.search(queries[i], 1, 1).keys[0]) === truth[i]) agree++;
      }
      const us = (performance.now() - t1) * 1000 / q;
      const cpu = process.cpuUsage(c0);
      console.log(
        `${quantization} M ${m} efAdd ${efAdd} ef ${ef}: recall@1 ${(agree / q).toFixed(3)}, ` +
          `${us.toFixed(1)} µs/search (CPU ${((cpu.user + cpu.system) / q).toFixed(1)} µs); ` +
          `build ${buildUs.toFixed(0)} µs/insert on 2 threads`,
      );
    }
  }
} finally {
  await Deno.remove(dir, { recursive: true });
}
