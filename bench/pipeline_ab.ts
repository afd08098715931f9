/**
 * The node's publish-to-delivery pipeline of two checkouts, compared in one process: a node of
 * each (publisher and subscriber sessions on `MemoryTransport`s that read on demand, no sockets,
 * no WebSocket framing), fed the same batches of 1 KB publishes (55 a message: what the TS
 * client sends at a paced 50k/s), messages alternating between the two, each one's CPU time read
 * around it. The machine's noise hits both alike, so a difference of a few percent shows, where
 * CPU time per pulse of a node under a socket load moves by 20-30% between identical runs on a
 * shared machine (docs/performance.md, issue 18's second round).
 *
 *   taskset -c 1 deno run -A bench/pipeline_ab.ts <checkout A> <checkout B> [pulses a message] [rounds]
 *
 * Prints the median CPU per pulse of each and the median of the rounds' B/A ratios (2,000
 * messages each a round). Checkouts need their `runtime/protocol/gen` built.
 * @module
 */
import process from "node:process";

const [rootA, rootB, perArg, roundsArg] = Deno.args;
if (!rootA || !rootB) {
  console.error(
    "usage: bench/pipeline_ab.ts <checkout A> <checkout B> [pulses a message] [rounds]",
  );
  Deno.exit(2);
}
const PER = Number(perArg ?? 55);
const ROUNDS = Number(roundsArg ?? 15);
const MESSAGES = 2000;

/** CPU time of this process, µs (user + system). */
const cpu = () => {
  const u = process.cpuUsage();
  return u.user + u.system;
};

/** A node of the checkout at `root`, a subscriber on `bench.>` and a publisher's session. */
async function setup(root: string) {
  const base = new URL(`file://${root.replace(/\/$/, "")}/`);
  const m = await import(new URL("mod.ts", base).href);
  const t = await import(new URL("runtime/transport/mod.ts", base).href);
  const node = await m.startNode({ port: 0, log: "quiet", dataDir: await Deno.makeTempDir() });
  const sub = node.attach(new t.MemoryTransport({ keep: false, readsOnDemand: true }), "proto");
  sub.receive(m.encodeFrame({ subscribe: { subscriptionId: 1, pattern: "bench.>" } }));
  const pub = node.attach(new t.MemoryTransport({ keep: false, readsOnDemand: true }), "proto");
  pub.receive(m.encodeFrame({ hello: { clientName: "bench", protocolVersion: 1 } }));
  const batch = new m.BatchBuilder();
  const payload = new Uint8Array(1024);
  for (let i = 0; i < PER; i++) {
    batch.addFrame(m.encodePublishFrame(0, 0, { topic: "bench.load.data", payload }));
  }
  return {
    node,
    pub: pub as { receive(m: Uint8Array): void | Promise<void> },
    message: batch.finish() as Uint8Array,
  };
}

type Bench = Awaited<ReturnType<typeof setup>>;
const benches: Bench[] = [await setup(rootA), await setup(rootB)];

/** One message through one node: a fresh buffer, as a transport hands over, then a turn. */
async function one(b: Bench): Promise<void> {
  const busy = b.pub.receive(b.message.slice());
  if (busy) await busy;
  await new Promise((r) => setImmediate(r));
}

// Warm-up: both optimized.
for (let i = 0; i < 3000; i++) {
  await one(benches[0]);
  await one(benches[1]);
}
const a: number[] = [];
const b: number[] = [];
const ratios: number[] = [];
for (let k = 0; k < ROUNDS; k++) {
  const spent = [0, 0];
  for (let i = 0; i < MESSAGES; i++) {
    // Each goes first every other message.
    for (const w of i & 1 ? [1, 0] : [0, 1]) {
      const c0 = cpu();
      await one(benches[w]);
      spent[w] += cpu() - c0;
    }
  }
  a.push(spent[0] / (MESSAGES * PER));
  b.push(spent[1] / (MESSAGES * PER));
  ratios.push(spent[1] / spent[0]);
}
const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
console.log(
  `A ${median(a).toFixed(3)} µs a pulse, B ${median(b).toFixed(3)} µs a pulse, B/A median ${
    median(ratios).toFixed(3)
  } [${ratios.map((r) => r.toFixed(3)).join(" ")}]`,
);
for (const x of benches) await x.node.shutdown();
Deno.exit(0);
