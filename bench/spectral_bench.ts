/**
 * What spectral filters cost where deliveries are routed: the Spine's publish-and-route per
 * pulse (no sockets) with unfiltered subscribers only, then with a filtered subscriber on the
 * same topic, and the cost of one filter evaluation.
 * Run: deno run -A bench/spectral_bench.ts [pulses]
 * @module
 */
import { compileSpectralFilter, type IPulse } from "../runtime/protocol/mod.ts";
import { Spine, type Subscription } from "../runtime/spine/mod.ts";
import { NodeMetrics } from "../runtime/telemetry/mod.ts";

const N = Number(Deno.args[0] ?? 400_000);
const owner = { wake() {}, overflowed() {} };
const payload = new Uint8Array(64);

function run(_label: string, filters: (string | undefined)[]): number {
  const spine = new Spine({
    metrics: new NodeMetrics(),
    queue: { maxMessages: 1 << 16, maxBytes: 1 << 30, overflow: "drop-oldest" },
  });
  const subs: Subscription[] = filters.map((f, i) =>
    spine.subscribe(owner, {
      id: i + 1,
      pattern: "mesh.>",
      spectralFilter: f ? compileSpectralFilter(f) : undefined,
    })
  );
  const pulse = (i: number): IPulse => ({
    topic: "mesh.node.phase",
    payload,
    spectral: { coherence: (i % 100) / 100, criticality: 0.1 },
  });
  for (let i = 0; i < 20_000; i++) spine.publish(pulse(i), "bench");
  for (const s of subs) s.take(1 << 20);
  const t0 = performance.now();
  for (let i = 0; i < N; i++) {
    spine.publish(pulse(i), "bench");
    if ((i & 1023) === 1023) { for (const s of subs) s.take(2048); }
  }
  const us = (performance.now() - t0) * 1000 / N;
  return us;
}

// Round robin, best of five: the first runs pay for JIT warm-up and the machine is shared.
const configs: [string, (string | undefined)[]][] = [
  ["2 subscribers, no filter", [undefined, undefined]],
  ["2 subscribers, one `coherence >= 0.75`", [undefined, "coherence >= 0.75"]],
  ["2 subscribers, one `criticality < 0.2 && coherence > 0.5`", [
    undefined,
    "criticality < 0.2 && coherence > 0.5",
  ]],
];
const best = configs.map(() => Infinity);
for (let round = 0; round < 5; round++) {
  configs.forEach(([label, filters], i) => best[i] = Math.min(best[i], run(label, filters)));
}
const [plain, one, two] = best;
configs.forEach(([label], i) => console.log(`best: ${label.padEnd(58)} ${best[i].toFixed(3)} µs`));
const f = compileSpectralFilter("criticality < 0.2 && coherence > 0.5");
const s = { coherence: 0.6, criticality: 0.1 };
let hits = 0;
const t0 = performance.now();
for (let i = 0; i < 10_000_000; i++) if (f.test(s)) hits++;
const ns = (performance.now() - t0) * 1e6 / 10_000_000;
console.log(`one evaluation of a two-term filter: ${ns.toFixed(1)} ns (${hits} hits)`);
console.log(
  `filtered route / unfiltered: ${(one / plain).toFixed(2)}x (one term), ${
    (two / plain).toFixed(2)
  }x (two terms)`,
);
