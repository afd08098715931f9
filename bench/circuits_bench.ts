/**
 * `deno task bench:circuits`: the shipped 3-stage audio circuit (window -> features ->
 * classify, docs/operators.md "Circuits") in the node, against the same three stages run as
 * three external Deno client processes (`bench/circuits/load.ts stage ...`, computing the same
 * thing: the Harmonics reference interpreter and classify's rules in TypeScript), in the
 * same run, on the same node (`--memory`):
 *
 * - classes per second with `--window` frames in flight (each frame checked: its class);
 * - frame -> class p50/p99 at a fixed rate (`--rate`, frames/s).
 *
 * Pinning (bench/support.ts): the node on CPU 1 (its operator Workers are threads of it),
 * the load processes and the external stages on CPU 0. Targets (issue 13): in-node at least
 * 2x the external throughput, at most 0.5x its p50. Prints the ratios.
 *
 *   deno task bench:circuits [--quick] [--seconds 4] [--rate 500] [--window 256] [--no-pin]
 * @module
 */
import { parseArgs } from "node:util";
import { CAN_PIN, LOAD_CPU, type NodeProcess, SERVER_CPU, startNodeProcess } from "./support.ts";
import { loadRoles } from "./operators/harness.ts";
import { buildOperatorCached, OPERATOR_BUILD_DIR, REPO_ROOT } from "../operators/build/mod.ts";
import { HARMONICS_SOURCE } from "../operators/builtin/harmonics/mod.ts";
import { demoCircuit } from "../operators/circuits/demo.ts";
import { helpFromHeader } from "../scripts/task_cli.ts";

helpFromHeader(import.meta.url); // `--help`: the usage above, exit 0

const { values } = parseArgs({
  args: Deno.args,
  options: {
    quick: { type: "boolean", default: false },
    seconds: { type: "string" },
    rate: { type: "string" },
    window: { type: "string" },
    "no-pin": { type: "boolean", default: false },
  },
});
const QUICK = values.quick;
const SECONDS = Number(values.seconds ?? (QUICK ? 1 : 4));
const WARMUP = QUICK ? 0.5 : 1.5;
/** A rate both ways sustain here (the external pipeline tops out near 1k frames/s). */
const RATE = Number(values.rate ?? 300);
const WINDOW = Number(values.window ?? 256);
const PIN = !values["no-pin"] && CAN_PIN;
const loadCpu = PIN ? LOAD_CPU : null;
const script = new URL("./circuits/load.ts", import.meta.url).pathname;
const { runToEnd, startLongRole } = loadRoles(script, loadCpu);
const fmt = (n: number) => Math.round(n).toLocaleString("en-US");

interface Windowed {
  sent: number;
  received: number;
  perSecond: number;
}
interface Paced {
  sent: number;
  received: number;
  p50: number;
  p99: number;
}

async function measure(node: NodeProcess, label: string) {
  const w = await runToEnd<Windowed>(["windowed", node.wsUrl, SECONDS, WARMUP, WINDOW].map(String));
  const p = await runToEnd<Paced>(["paced", node.wsUrl, RATE, SECONDS, WARMUP].map(String));
  console.log(
    `  ${label.padEnd(10)} ${fmt(w.perSecond).padStart(7)} classes/s (window ${WINDOW}, ` +
      `${fmt(w.received)} checked)   at ${RATE}/s: p50 ${p.p50.toFixed(2)} ms, p99 ${
        p.p99.toFixed(2)
      } ms (${fmt(p.received)} checked)`,
  );
  return { perSecond: w.perSecond, p50: p.p50, p99: p.p99 };
}

async function http(node: NodeProcess, method: string, path: string, body?: unknown) {
  const res = await fetch(`${node.httpUrl}${path}`, {
    method,
    headers: { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return JSON.parse(text);
}

async function main() {
  await buildOperatorCached(HARMONICS_SOURCE, `${OPERATOR_BUILD_DIR}builtin/harmonics.wasm`);
  await buildOperatorCached(
    `${REPO_ROOT}operators/builtin/classify/assembly/operator.ts`,
    `${OPERATOR_BUILD_DIR}builtin/classify.wasm`,
  );
  console.log(
    `bench:circuits: 3-stage audio circuit, node --memory, ${SECONDS} s per measurement after ` +
      `${WARMUP} s warm-up, ${
        PIN ? `node on CPU ${SERVER_CPU}, load + external stages on CPU ${LOAD_CPU}` : "unpinned"
      }${QUICK ? ", QUICK" : ""}`,
  );
  const node = await startNodeProcess(["--memory"], PIN ? SERVER_CPU : null);
  try {
    await http(node, "PUT", "/v1/realities/default/circuits/audio", demoCircuit());
    const inNode = await measure(node, "in-node");
    const figures = await http(node, "GET", "/v1/realities/default/circuits/audio");
    for (const h of figures.hops) {
      console.log(
        `    hop ${h.hop} ${h.topic.padEnd(15)} pulses ${fmt(h.pulses)}, violations ` +
          `${h.violations}, stage p50 ${h.latency_ms.p50.toFixed(2)} ms, p99 ${
            h.latency_ms.p99.toFixed(2)
          } ms`,
      );
    }
    console.log(`    slowest stage: ${JSON.stringify(figures.slowest_stage)}`);
    // Where the in-node time goes: each stage's handle() time in its Worker.
    for (const st of figures.stages) {
      const op = await http(node, "GET", `/v1/operators/${st.operator}`);
      console.log(
        `    stage ${st.operator} (${st.builtin}): handle p50 ${op.handle_ms.p50.toFixed(3)} ms, ` +
          `p99 ${op.handle_ms.p99.toFixed(3)} ms, fuel/pulse ${
            fmt(op.counters.fuelUsed / Math.max(1, op.counters.pulsesIn))
          }`,
      );
    }
    await http(node, "DELETE", "/v1/realities/default/circuits/audio");

    const stages = [];
    for (const s of ["classify", "features", "window"]) {
      stages.push(await startLongRole(["stage", node.wsUrl, s]));
    }
    const external = await measure(node, "external");
    for (const s of stages) await s.stop();

    const thr = inNode.perSecond / external.perSecond;
    const lat = inNode.p50 / external.p50;
    console.log(
      `  ratios: throughput in-node/external ${thr.toFixed(2)}x (target >= 2x: ${
        thr >= 2 ? "met" : "NOT met"
      }), p50 in-node/external ${lat.toFixed(2)}x (target <= 0.5x: ${
        lat <= 0.5 ? "met" : "NOT met"
      }), p99 ${(inNode.p99 / external.p99).toFixed(2)}x`,
    );
  } finally {
    await node.stop();
  }
}

if (import.meta.main) await main();
