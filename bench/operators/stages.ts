/**
 * Where an operator output's time goes, stage by stage, without a node: the bench's `sum`
 * operator (bench/operators/assembly/sum.ts) driven through the pieces of the operator path
 * in one process (each stage timed alone over the same inputs), then through a real
 * operator Worker (operators/worker_client.ts) at batch sizes 1, 64 and 1024: the round trip
 * of a pulse sent alone (the hop's floor) and the throughput with two batches in flight,
 * with each thread's CPU per pulse (/proc/self/task). The Spine's publish of each output is
 * not here (bench:operators measures the whole path).
 *
 *   taskset -c 1 deno run -A bench/operators/stages.ts [--pulses 20000] [--worker-cpu 0]
 * @module
 */
import { parseArgs } from "node:util";
import process from "node:process";
import { buildOperatorCached, OPERATOR_BUILD_DIR } from "../../operators/build/mod.ts";
import { DEFAULT_LIMITS, Engine } from "../../runtime/sandbox/mod.ts";
import { decodePulse, type IPulse } from "../../runtime/protocol/mod.ts";
import { StampedPulse } from "../../runtime/spine/mod.ts";
import { loadOperator, OperatorSandbox } from "../../operators/operator_sandbox.ts";
import { OperatorState } from "../../operators/state.ts";
import { toOperatorPulse } from "../../operators/input_pulse.ts";
import { buildOutputs } from "../../operators/output_build.ts";
import {
  decodeBatch,
  decodeOutcomes,
  encodeBatch,
  encodeOutcomes,
  type PulseOutcome,
} from "../../operators/worker_protocol.ts";
import { OperatorWorker } from "../../operators/worker_client.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    pulses: { type: "string", default: "20000" },
    // Pins the Worker's thread to this CPU (as `--operator-cpus` does); run the process
    // itself under `taskset -c <another>` to compare with both on one CPU.
    "worker-cpu": { type: "string" },
  },
});
const N = Number(values.pulses);
const OUT = { maxOutputs: 16, maxOutputBytes: 65536 };
const enc = new TextEncoder();

const src = new URL("assembly/", import.meta.url).pathname;
const wasm = await buildOperatorCached(`${src}sum.ts`, `${OPERATOR_BUILD_DIR}bench/sum.wasm`);
const engine = new Engine();
const module = await loadOperator(engine, wasm, DEFAULT_LIMITS);

function input(i: number): StampedPulse {
  const pulse: IPulse = {
    id: `0190a0b0-0000-7000-8000-${String(i).padStart(12, "0")}`,
    topic: "nums.a",
    realityId: "op",
    producerId: "client-1",
    contentType: "application/json",
    payload: enc.encode(`{"i":${i},"v":${i % 7}}`),
    sequence: i + 1,
    timestamp: { wallMs: 1_700_000_000_000 + i, logical: 0 },
    entropySeed: 12345 + i,
    traceContext: { traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" },
  };
  return new StampedPulse(pulse);
}
const inputs = Array.from({ length: N }, (_, i) => input(i));
const us = (ms: number, n: number) => (ms * 1000 / n).toFixed(2);

/**
 * Times `fn` over every input (after a warm-up pass): µs of CPU per pulse (getrusage: the
 * machine is shared, wall time is not the stage's), and wall µs.
 */
function stage(label: string, fn: () => void): void {
  fn();
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  fn();
  const wall = performance.now() - t0;
  const c = process.cpuUsage(c0);
  console.log(
    `  ${label.padEnd(38)} CPU ${us((c.user + c.system) / 1000, N).padStart(6)} µs/pulse` +
      `   (wall ${us(wall, N)})`,
  );
}

console.log(`stages of one pulse of bench-sum, in one thread (${N} pulses):`);
const sandbox = new OperatorSandbox(module, new OperatorState(1 << 20), "{}");
const packedInputs = () => encodeBatch(inputs);
let encoded: Uint8Array[] = [];
let decoded: IPulse[] = [];
let views: ReturnType<typeof toOperatorPulse>[] = [];
let outcomes: PulseOutcome[] = [];
stage("node: encodeBatch (pack inputs)", () => {
  for (let i = 0; i < N; i += 64) encodeBatch(inputs.slice(i, i + 64));
});
stage("worker: decodeBatch", () => encoded = decodeBatch(packedInputs()));
stage("worker: decodePulse (protobufjs)", () => decoded = encoded.map((b) => decodePulse(b)));
stage("worker: toOperatorPulse", () => views = decoded.map(toOperatorPulse));
let results: ReturnType<typeof sandbox.handle>[] = [];
stage(
  "worker: sandbox.handle (Wasm + ABI)",
  () => results = views.map((v) => sandbox.handle(v, OUT)),
);
let built: ReturnType<typeof buildOutputs>[] = [];
stage("worker: buildOutputs", () => {
  built = decoded.map((d, i) => buildOutputs(d, results[i].outputs, "bench-sum", "op"));
});
outcomes = built.map((b, i) => ({
  ok: true,
  hops: b.hops,
  outputs: b.outputs,
  changes: [...results[i].changes],
  fuel: results[i].fuel,
  ms: 0,
}));
let packed: ArrayBuffer[] = [];
stage("worker: encodeOutcomes", () => {
  packed = [];
  for (let i = 0; i < N; i += 64) packed.push(encodeOutcomes(outcomes.slice(i, i + 64)));
});
stage("node: decodeOutcomes", () => {
  for (const p of packed) decodeOutcomes(p);
});

/** CPU seconds of this process's threads: [main, others]. */
function threadCpu(): [number, number] {
  let main = 0;
  let rest = 0;
  for (const e of Deno.readDirSync("/proc/self/task")) {
    const stat = Deno.readTextFileSync(`/proc/self/task/${e.name}/stat`);
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const s = (Number(f[11]) + Number(f[12])) / 100;
    if (Number(e.name) === Deno.pid) main += s;
    else rest += s;
  }
  return [main, rest];
}

const worker = new OperatorWorker(() => {});
await worker.start({
  compiled: module.compiled,
  digest: module.digest,
  limits: module.limits,
  outputLimits: OUT,
  config: "{}",
  state: [],
  maxStateBytes: 1 << 20,
  name: "bench-sum",
  reality: "op",
  cpus: values["worker-cpu"] === undefined ? undefined : [Number(values["worker-cpu"])],
});

console.log("through the Worker (round trip of one pulse alone, then two batches in flight):");
/** p50 and p99 of `xs`, µs. */
function pct(xs: number[]): string {
  xs.sort((a, b) => a - b);
  const at = (q: number) =>
    (xs[Math.min(xs.length - 1, Math.floor(xs.length * q))] * 1000).toFixed(0);
  return `p50 ${at(0.5)} µs, p99 ${at(0.99)} µs`;
}
{
  const empty: number[] = [];
  const lat: number[] = [];
  const handle: number[] = [];
  for (let i = 0; i < 2000; i++) {
    let t0 = performance.now();
    await worker.handle([]);
    empty.push(performance.now() - t0);
    t0 = performance.now();
    const [o] = await worker.handle([inputs[i]]);
    lat.push(performance.now() - t0);
    handle.push(o.ms);
    // Paced like the 10k/s hop: the Worker goes idle between pulses.
    await new Promise((r) => setTimeout(r, 0));
  }
  console.log(`  an empty batch: round trip ${pct(empty)}`);
  console.log(`  one pulse alone: round trip ${pct(lat)}; its handle ${pct(handle)}`);
}
for (const size of [64, 256, 1024]) {
  const [m0, w0] = threadCpu();
  const t0 = performance.now();
  const inFlight: Promise<PulseOutcome[]>[] = [];
  let next = 0;
  let done = 0;
  while (done < N) {
    while (inFlight.length < 2 && next < N) {
      inFlight.push(worker.handle(inputs.slice(next, next + size)));
      next += size;
    }
    done += (await inFlight.shift()!).length;
  }
  const ms = performance.now() - t0;
  const [m1, w1] = threadCpu();
  console.log(
    `  batches of ${String(size).padStart(4)}: ${
      Math.round(N / ms * 1000)
    } pulses/s, CPU µs/pulse main ${us((m1 - m0) * 1000, N)} + other threads ${
      us((w1 - w0) * 1000, N)
    }`,
  );
}
worker.stop();
