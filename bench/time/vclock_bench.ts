/**
 * `deno task bench:vclock`: what vector clock stamping costs on plain 1→1 throughput
 * (issue 14 item 7; target: at most 10%). Two nodes in the same run, one with
 * `--vclock on` (the default) and one with `--vclock off`, driven in turn by the same load
 * generator processes (bench/loadgen.ts: 1 KB pulses at maximum rate, one subscriber; the
 * publisher consumes nothing, so each clock is the pulse's own entry). Prints deliveries/s
 * of both, their ratio and the cost, per round and as medians.
 *
 * First, the same comparison without sockets, which the other load of a shared machine
 * disturbs far less: two nodes in this process (on and off), a publisher session fed
 * batches of 256 publishes through an in-memory transport and a subscriber session drained
 * the same way (as bench/node_micro.ts), timed alternately; the node's µs per pulse with and
 * without clocks, as medians.
 *
 *   deno task bench:vclock [--seconds 5] [--rounds 3] [--no-pin] [--in-process-only]
 * @module
 */
import { helpFromHeader } from "../../scripts/task_cli.ts";
import {
  type ArqonNode,
  BatchBuilder,
  encodeFrame,
  encodePublishFrame,
  startNode,
} from "../../mod.ts";
import { MemoryTransport } from "../../runtime/transport/mod.ts";
import { parseArgs } from "node:util";
import {
  CAN_PIN,
  deliveryRate,
  LOAD_CPU,
  median,
  type NodeProcess,
  SERVER_CPU,
  spawnScript,
  startNodeProcess,
} from "../support.ts";

helpFromHeader(import.meta.url); // `--help`: the usage above, exit 0

const { values } = parseArgs({
  args: Deno.args,
  options: {
    seconds: { type: "string", default: "5" },
    rounds: { type: "string", default: "3" },
    "no-pin": { type: "boolean", default: false },
    "in-process-only": { type: "boolean", default: false },
  },
});
const SECONDS = Number(values.seconds);
const ROUNDS = Number(values.rounds);
// Both nodes on CPU 1 (one is loaded at a time), the load processes on CPU 0.
const PIN = !values["no-pin"] && CAN_PIN;
const serverCpu = PIN ? SERVER_CPU : null;
const loadCpu = PIN ? LOAD_CPU : null;
const loadgen = new URL("../loadgen.ts", import.meta.url).pathname;

/**
 * Deliveries/s at maximum rate, and the node's CPU µs per delivered pulse over the run (a
 * figure the other load on a shared machine disturbs less than the rate).
 */
async function throughput(node: NodeProcess): Promise<{ rate: number; cpuUs: number }> {
  const cpu0 = node.cpuSeconds();
  const rate = await deliveryRate(
    () => spawnScript(loadgen, ["sub", "arqon", node.wsUrl, "1"], loadCpu),
    () => spawnScript(loadgen, ["pub", "arqon", node.wsUrl, String(SECONDS)], loadCpu),
    SECONDS,
  );
  const cpu = node.cpuSeconds() - cpu0;
  // The publisher ran SECONDS at about `rate`; the rest of the run the node idled.
  const pulses = rate * SECONDS;
  return { rate, cpuUs: pulses > 0 ? cpu / pulses * 1e6 : NaN };
}

const fmt = (n: number) => n.toLocaleString("en-US");

/** A node in this process with a publisher and a subscriber session on memory transports. */
async function micro(
  vclock: "on" | "off",
): Promise<{ node: ArqonNode; run: (n: number) => Promise<number> }> {
  const node = await startNode({ port: 0, log: "quiet", memory: true, vclock });
  const sub = node.attach(new MemoryTransport({ keep: false }), "proto");
  sub.receive(encodeFrame({ subscribe: { subscriptionId: 1, pattern: "bench.>" } }));
  const pub = node.attach(new MemoryTransport({ keep: false }), "proto");
  const payload = new Uint8Array(1024);
  const b = new BatchBuilder();
  for (let i = 0; i < 256; i++) {
    b.addFrame(encodePublishFrame(0, 0, { topic: "bench.load.data", payload })!);
  }
  const batch = b.finish();
  const run = async (rounds: number) => {
    const t0 = performance.now();
    for (let i = 0; i < rounds; i++) {
      pub.receive(batch);
      await Promise.resolve(); // let the subscriber's flush run, as the event loop would
    }
    return (performance.now() - t0) * 1000 / (rounds * 256);
  };
  await run(200); // warm-up
  return { node, run };
}

{
  const mOn = await micro("on");
  const mOff = await micro("off");
  const usOn: number[] = [];
  const usOff: number[] = [];
  for (let i = 0; i < 9; i++) {
    if (i % 2 === 0) {
      usOn.push(await mOn.run(300));
      usOff.push(await mOff.run(300));
    } else {
      usOff.push(await mOff.run(300));
      usOn.push(await mOn.run(300));
    }
  }
  await mOn.node.shutdown();
  await mOff.node.shutdown();
  const [a, b] = [median(usOn), median(usOff)];
  console.log(
    `in process (no sockets), 1 KB 1→1, median of 9: node ${a.toFixed(3)} µs/pulse with ` +
      `vector clocks, ${b.toFixed(3)} without: ratio ${(b / a).toFixed(3)} of the rate, ` +
      `cost ${((1 - b / a) * 100).toFixed(1)}% (target: at most 10%) ${
        1 - b / a <= 0.1 ? "PASS" : "FAIL"
      }`,
  );
  console.log(`load average: ${Deno.loadavg().map((x) => x.toFixed(2)).join(" ")}\n`);
}
if (values["in-process-only"]) Deno.exit(0);

const dirs = [
  await Deno.makeTempDir({ prefix: "arqon-vclock-on-" }),
  await Deno.makeTempDir({ prefix: "arqon-vclock-off-" }),
];
const on = await startNodeProcess(["--data-dir", dirs[0], "--vclock", "on"], serverCpu);
const off = await startNodeProcess(["--data-dir", dirs[1], "--vclock", "off"], serverCpu);
console.log(
  `vector clock stamping on 1→1 throughput: payload 1 KB, ${SECONDS} s per measurement, ` +
    `${ROUNDS} round(s), ${
      PIN ? `nodes on CPU ${SERVER_CPU}, load on CPU ${LOAD_CPU}` : "unpinned"
    }`,
);
console.log(`load average at start: ${Deno.loadavg().map((x) => x.toFixed(2)).join(" ")}\n`);
const ratios: number[] = [];
const cpuRatios: number[] = [];
try {
  for (let round = 1; round <= ROUNDS; round++) {
    // Alternate which goes first, so that both see the same background load on average.
    let a, b;
    if (round % 2 === 1) {
      a = await throughput(on);
      b = await throughput(off);
    } else {
      b = await throughput(off);
      a = await throughput(on);
    }
    const ratio = a.rate / b.rate;
    const cpuRatio = a.cpuUs / b.cpuUs;
    ratios.push(ratio);
    cpuRatios.push(cpuRatio);
    console.log(
      `round ${round}: deliveries/s  vclock on ${fmt(a.rate).padStart(9)}   off ${
        fmt(b.rate).padStart(9)
      }   ratio ${ratio.toFixed(3)}   |  node CPU per pulse  on ${a.cpuUs.toFixed(2)} µs   off ${
        b.cpuUs.toFixed(2)
      } µs   ratio ${cpuRatio.toFixed(3)}`,
    );
  }
  const m = median(ratios);
  const c = median(cpuRatios);
  console.log(
    `\nmedian throughput ratio (on/off) ${m.toFixed(3)}: vector clocks cost ${
      ((1 - m) * 100).toFixed(1)
    }% of 1→1 throughput (target: at most 10%) ${1 - m <= 0.1 ? "PASS" : "FAIL"}`,
  );
  console.log(
    `median node CPU per pulse ratio (on/off) ${c.toFixed(3)}: ${((c - 1) * 100).toFixed(1)}% more`,
  );
  console.log(`load average at end: ${Deno.loadavg().map((x) => x.toFixed(2)).join(" ")}`);
} finally {
  await on.stop();
  await off.stop();
  for (const d of dirs) await Deno.remove(d, { recursive: true });
}
