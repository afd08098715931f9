/**
 * `deno task bench:security`: what the Shield's security costs and what it protects.
 *
 * 1. Bulkheads. A "calm" reality publishes 1 KB pulses at a fixed rate to its own
 *    subscriber and measures p50/p99 latency: alone, then while a "storm" reality floods
 *    the node (pre-encoded batches over a raw WebSocket, reconnecting when kicked): at
 *    its cap (`--reality-rate-pulses`), over its cap, and with no cap at all, the last
 *    also with Deno's built-in WebSocket server (`--ws-engine deno`), without and with
 *    the fair ingress queue (`--fair-quantum-us`), to show what each part does. Target:
 *    calm p99 under a flood at its maximum rate <= 2x alone.
 * 2. Auth cost. 1→1 maximum-rate throughput through a node without auth and through a
 *    node requiring a token whose grants have allow and deny patterns (every publish and
 *    delivery checked), in ABBA rounds in the same run. Target: < 5% lower. The checks
 *    are also timed alone against the node's per-pulse time, free of machine noise.
 *
 * Every party is its own process (node, storm, calm, throughput client), so none shares
 * an event loop with the node under test.
 *
 *   deno task bench:security [--seconds 5] [--rounds 4] [--calm-rate 1000] [--storm-cap 20000]
 *                            [--only bulkheads|auth]
 * @module
 */
import { helpFromHeader } from "../scripts/task_cli.ts";
import {
  LOAD_CPU,
  type NodeProcess,
  pinned,
  SERVER_CPU,
  startNodeProcess as startNode,
} from "./support.ts";
import { parseArgs } from "node:util";
import { ArqonClient } from "../runtime/client/mod.ts";
import { BatchBuilder, encodeFrame, encodePublishFrame } from "../runtime/protocol/mod.ts";
import {
  issueToken,
  parseGrants,
  PermissionChecker,
  writeNodeKeyFile,
} from "../runtime/shield/auth/mod.ts";

helpFromHeader(import.meta.url); // `--help`: the usage above, exit 0

const { values } = parseArgs({
  args: Deno.args,
  options: {
    role: { type: "string" },
    url: { type: "string" },
    token: { type: "string", default: "" },
    reality: { type: "string", default: "" },
    rate: { type: "string", default: "1000" },
    seconds: { type: "string", default: "5" },
    rounds: { type: "string", default: "4" },
    "calm-rate": { type: "string", default: "1000" },
    "storm-cap": { type: "string", default: "20000" },
    connections: { type: "string", default: "1" },
    only: { type: "string", default: "" },
  },
});
const SECONDS = Number(values.seconds);
const self = new URL(import.meta.url).pathname;
const PAYLOAD = 1024;

// ---- roles (child processes) ----------------------------------------------------------

/**
 * A client of the bench. TCP_NODELAY on: with Nagle's algorithm a paced publisher's small
 * writes wait for the node's delayed ACKs, which measures the kernel, not the node.
 */
async function connect(): Promise<ArqonClient> {
  return await ArqonClient.connect(values.url!, {
    token: values.token || undefined,
    reconnect: false,
    noDelay: true,
  });
}

/** Fixed-rate 1→1 latency in one reality, measured after a 1 s warm-up. */
async function calmRole(): Promise<void> {
  const rate = Number(values.rate);
  const pub = await connect();
  const sub = await connect();
  const latencies: number[] = [];
  let measuring = false;
  const s = sub.subscribe("calm.data", {
    reality: values.reality,
    onPulse: (p) => {
      if (!measuring) return;
      const v = new DataView(p.payload!.buffer, p.payload!.byteOffset, 8);
      latencies.push(performance.now() - v.getFloat64(0, true));
    },
  });
  await s.ready;
  const payload = new Uint8Array(PAYLOAD);
  const view = new DataView(payload.buffer);
  const start = performance.now();
  const end = start + 1000 + SECONDS * 1000;
  let due = 0;
  while (performance.now() < end) {
    const now = performance.now();
    measuring = now >= start + 1000;
    const target = Math.floor(((now - start) / 1000) * rate);
    for (; due < target; due++) {
      view.setFloat64(0, performance.now(), true);
      pub.publish("calm.data", payload, { reality: values.reality, ack: "none" });
    }
    await new Promise((r) => setTimeout(r, 1));
  }
  await new Promise((r) => setTimeout(r, 300));
  latencies.sort((a, b) => a - b);
  const pct = (q: number) => latencies[Math.floor(q * (latencies.length - 1))] ?? NaN;
  console.log(JSON.stringify({ received: latencies.length, p50Ms: pct(0.5), p99Ms: pct(0.99) }));
  await pub.close();
  await sub.close();
}

/**
 * Floods one reality: at `--rate` pulses/s (its cap: the most it may send), or with
 * `--rate 0` as fast as the node reads. The flood is one pre-encoded batch of publishes
 * sent again and again over a raw WebSocket, so the load generator spends next to
 * nothing per pulse and the node, not the generator, is what runs out of CPU. Messages
 * from the node (refusal notices, kicks) are counted, not fatal.
 */
async function stormRole(): Promise<void> {
  const rate = Number(values.rate);
  const perBatch = rate > 0 ? 16 : 256;
  const builder = new BatchBuilder();
  const one = encodePublishFrame(0, 0, {
    topic: "storm.data",
    realityId: values.reality,
    payload: new Uint8Array(PAYLOAD),
  })!;
  for (let i = 0; i < perBatch; i++) builder.addFrame(one);
  const message = builder.finish();
  const hello = encodeFrame({
    hello: { clientName: "storm", protocolVersion: 1, token: values.token },
  });
  const start = performance.now();
  const end = start + SECONDS * 1000 + 1500;
  let sent = 0;
  let notices = 0;
  let kicks = 0;
  // A hostile flood over `--connections` sockets: when the node closes one, it connects
  // again and goes on. A rate is shared out among the connections.
  const connections = Number(values.connections);
  const flood = async (share: number) => {
    let mine = 0;
    while (performance.now() < end) {
      const ws = new WebSocket(values.url!, "arqon.v1.proto");
      ws.binaryType = "arraybuffer";
      let open = true;
      ws.onmessage = () => notices++;
      ws.onclose = () => open = false;
      const opened = await new Promise<boolean>((resolve) => {
        ws.onopen = () => resolve(true);
        ws.onerror = () => resolve(false);
      });
      if (!opened) continue;
      ws.send(hello);
      while (open && performance.now() < end) {
        if (rate > 0) {
          const due = Math.floor(((performance.now() - start) / 1000) * rate * share);
          for (; mine + perBatch <= due; mine += perBatch) {
            ws.send(message);
            sent += perBatch;
          }
          await new Promise((r) => setTimeout(r, 1));
        } else {
          // A closing socket ignores sends without buffering them: check the state too.
          while (ws.readyState === WebSocket.OPEN && ws.bufferedAmount < 4 * 1024 * 1024) {
            ws.send(message);
            sent += perBatch;
          }
          await new Promise((r) => setTimeout(r, 0));
        }
      }
      if (open) ws.close();
      else kicks++;
    }
  };
  await Promise.all(Array.from({ length: connections }, () => flood(1 / connections)));
  console.log(JSON.stringify({ sent, refusals: notices, kicks }));
}

/** Subscriber side of the throughput test: counts deliveries per 100 ms until stdin closes. */
async function sinkRole(): Promise<void> {
  const sub = await connect();
  const buckets: number[] = [];
  let first = 0;
  const s = sub.subscribe("bench.load.data", {
    reality: values.reality,
    onPulse: () => {
      const now = performance.now();
      if (first === 0) first = now;
      const b = Math.floor((now - first) / 100);
      buckets[b] = (buckets[b] ?? 0) + 1;
    },
  });
  await s.ready;
  console.log("ready");
  for await (const _ of Deno.stdin.readable) { /* until the orchestrator closes stdin */ }
  console.log(JSON.stringify({ buckets: Array.from(buckets, (b) => b ?? 0) }));
  await sub.close();
}

/**
 * Publisher side of the throughput test: as fast as the node takes it, one pulse in 256
 * acknowledged. The acks carry the reality's sequence, so the accepted rate is read from
 * the node's own numbering (robust to how fast the sink or /metrics are served).
 */
async function sourceRole(): Promise<void> {
  const pub = await connect();
  const payload = new Uint8Array(PAYLOAD);
  const start = performance.now();
  const warm = start + 1000;
  const end = warm + SECONDS * 1000;
  let first: [number, number] | undefined;
  let last: [number, number] | undefined;
  const inflight = new Set<Promise<unknown>>();
  while (performance.now() < end) {
    for (let i = 0; i < 255; i++) {
      pub.publish("bench.load.data", payload, { reality: values.reality, ack: "none" });
    }
    const p: Promise<unknown> = pub.publish("bench.load.data", payload, { reality: values.reality })
      .then((ack) => {
        const now = performance.now();
        if (now >= warm) {
          first ??= [now, ack!.sequence];
          last = [now, ack!.sequence];
        }
      }).finally(() => inflight.delete(p));
    inflight.add(p);
    // At most 4 x 256 pulses unacknowledged: the node's pace sets ours.
    if (inflight.size >= 4) await Promise.race(inflight);
  }
  await Promise.all(inflight);
  const rate = first && last && last[0] > first[0]
    ? (last[1] - first[1]) / ((last[0] - first[0]) / 1000)
    : 0;
  console.log(JSON.stringify({ rate, total: last?.[1] ?? 0 }));
  await pub.close();
}

/**
 * Runs sink and source against a node: returns the rate the node accepted pulses at
 * (from its ack sequences, after a 1 s warm-up) and the rate the sink saw.
 */
async function throughput(
  node: RunningNode,
  extra: string[],
): Promise<{ accepted: number; delivered: number; cpuPerPulseUs: number }> {
  const sink = new Deno.Command(PIN.command, {
    args: [...PIN.clients, "run", "-A", self, "--role", "sink", "--url", node.wsUrl, ...extra],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = sink.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let out = "";
  while (!out.includes("ready")) {
    const { value, done } = await reader.read();
    if (done) throw new Error("sink did not start");
    out += value;
  }
  const cpuBefore = node.cpuSeconds();
  const { rate: accepted, total } = await role("source", node.wsUrl, extra, "auth");
  const cpuPerPulseUs = ((node.cpuSeconds() - cpuBefore) * 1e6) / total;
  await new Promise((r) => setTimeout(r, 300));
  await sink.stdin.close();
  while (true) {
    const { value, done } = await reader.read();
    if (done) break;
    out += value;
  }
  await sink.status;
  const { buckets } = JSON.parse(out.trim().split("\n").at(-1)!) as { buckets: number[] };
  const steady = buckets.slice(10, 10 + SECONDS * 10);
  const delivered = steady.reduce((a, b) => a + b, 0) / Math.max(steady.length / 10, 0.1);
  return { accepted, delivered, cpuPerPulseUs };
}

// ---- orchestrator ---------------------------------------------------------------------

/**
 * For the auth-cost runs, with two or more CPUs and `taskset` (util-linux): the node gets
 * CPU 0 and the clients the others, so the node's share of the machine does not depend on
 * the OS scheduler's mood. (Not for the bulkhead runs: there the calm client must not
 * share one CPU with the storm client.) Without taskset everything runs unpinned.
 */
const PIN = (() => {
  const cpus = navigator.hardwareConcurrency ?? 1;
  let taskset = false;
  try {
    taskset = cpus >= 2 &&
      new Deno.Command("taskset", { args: ["-c", "0", "true"] }).outputSync().success;
  } catch { /* not installed */ }
  if (!taskset) return { command: Deno.execPath(), node: [] as string[], clients: [] as string[] };
  const exec = Deno.execPath();
  return {
    command: "taskset",
    node: ["-c", "0", exec],
    clients: ["-c", cpus > 2 ? `1-${cpus - 1}` : "1", exec],
  };
})();

type RunningNode = NodeProcess;

/** The node with `--memory` and `flags`; on CPU 0 when pinned (see PIN). */
function startNodeProcess(flags: string[], pin = false): Promise<RunningNode> {
  return startNode(["--memory", ...flags], pin && PIN.command === "taskset" ? "0" : null);
}

/**
 * Runs one role as a child process. `launch` is how: pinned like the auth runs (`"auth"`),
 * on the load CPU (`"load"`), beside the node at a high priority (`"beside"`), or
 * wherever the OS puts it.
 */
async function role(
  name: string,
  url: string,
  extra: string[],
  launch: "auth" | "load" | "beside" | "any" = "any",
): Promise<Record<string, number>> {
  const exec = Deno.execPath();
  const [command, prefix] = launch === "auth"
    ? [PIN.command, PIN.clients]
    : launch === "load"
    ? pinned(LOAD_CPU, exec, [])
    : launch === "beside"
    ? pinned(SERVER_CPU, "nice", ["-n", "-10", exec])
    : [exec, []];
  const { stdout, code } = await new Deno.Command(command, {
    args: [
      ...prefix,
      "run",
      "-A",
      self,
      "--role",
      name,
      "--url",
      url,
      "--seconds",
      String(SECONDS),
      ...extra,
    ],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  const text = new TextDecoder().decode(stdout).trim();
  if (code !== 0) throw new Error(`${name} failed (${code}): ${text}`);
  return JSON.parse(text.split("\n").at(-1)!);
}

/**
 * The calm reality's latency with or without a storm. The storm's load generator has a
 * CPU of its own: flooding loopback TCP keeps a whole CPU busy with kernel work that no
 * `nice` contains, and a calm client beside it measured that, not the node. The calm
 * client, which needs little CPU, runs beside the node at a high priority. What is
 * measured is then the node's isolation.
 */
async function calmUnderStorm(
  flags: string[],
  stormRate: number | null,
): Promise<{ calm: Record<string, number>; storm?: Record<string, number> }> {
  const node = await startNode(["--memory", ...flags], SERVER_CPU);
  try {
    const calmArgs = ["--reality", "calm", "--rate", values["calm-rate"]!];
    if (stormRate === null) return { calm: await role("calm", node.wsUrl, calmArgs, "beside") };
    const stormRun = role(
      "storm",
      node.wsUrl,
      ["--reality", "storm", "--rate", String(stormRate)],
      "load",
    );
    await new Promise((r) => setTimeout(r, 500)); // let the flood build up first
    const calm = await role("calm", node.wsUrl, calmArgs, "beside");
    return { calm, storm: await stormRun };
  } finally {
    await node.stop();
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const fmt = (n: number, d = 2) => Number.isFinite(n) ? n.toFixed(d) : String(n);

async function bulkheads(rounds: number, cap: string): Promise<void> {
  console.log(
    `1. bulkheads: calm reality at ${
      values["calm-rate"]
    } pulses/s; storm reality capped at ${cap}/s`,
  );
  const cases: [string, string[], number | null][] = [
    ["alone", ["--reality-rate-pulses", cap], null],
    ["storm at its cap", ["--reality-rate-pulses", cap], Number(cap)],
    ["storm over its cap", ["--reality-rate-pulses", cap], 0],
    ["storm, no cap", [], 0],
    ["storm, no cap, Deno's WebSocket", ["--ws-engine", "deno"], 0],
    [
      "storm, no cap, Deno's WebSocket + fair queue",
      ["--ws-engine", "deno", "--fair-quantum-us", "300"],
      0,
    ],
  ];
  const p99 = new Map<string, number[]>(cases.map(([name]) => [name, []]));
  for (let r = 0; r < rounds; r++) {
    const parts: string[] = [];
    for (const [name, flags, stormRate] of cases) {
      const { calm, storm } = await calmUnderStorm(flags, stormRate);
      p99.get(name)!.push(calm.p99Ms);
      parts.push(
        `${name} ${fmt(calm.p99Ms)} ms` +
          (storm
            ? ` (storm sent ${storm.sent}, ${storm.refusals} notices, ${storm.kicks} kicks)`
            : ` (p50 ${fmt(calm.p50Ms)})`),
      );
    }
    console.log(`  round ${r + 1} calm p99: ${parts.join("; ")}`);
  }
  const base = median(p99.get("alone")!);
  for (const [name] of cases) {
    const m = median(p99.get(name)!);
    // The target: a flood at its maximum rate, capped or not, on the default node.
    const verdict = name === "storm at its cap" || name === "storm, no cap"
      ? `; target <= 2x: ${m / base <= 2 ? "met" : "NOT met"}`
      : "";
    console.log(
      `  median calm p99 ${name.padEnd(46)} ${fmt(m)} ms = ${fmt(m / base)}x alone${verdict}`,
    );
  }
  console.log();
}

async function main(): Promise<void> {
  const rounds = Number(values.rounds);
  const cap = values["storm-cap"]!;
  console.log(`security bench: ${SECONDS} s windows, ${rounds} rounds, 1 KB pulses\n`);

  if (values.only !== "auth") await bulkheads(rounds, cap);
  if (values.only === "bulkheads") return;
  console.log("2. auth cost: 1→1 max-rate throughput, token with allow/deny patterns vs open node");
  const dir = await Deno.makeTempDir({ prefix: "arqon-secbench-" });
  try {
    const key = await writeNodeKeyFile(`${dir}/node.key`);
    const token = await issueToken(key, {
      subject: "bench",
      realities: ["lab", "calm", "storm"],
      publish: { allow: ["bench.>", "calm.>"], deny: ["bench.secret.>", "bench.admin.*"] },
      subscribe: { allow: ["bench.>"], deny: ["bench.secret.>"] },
      roles: ["client"],
      ttlSeconds: 3600,
    });
    const open: number[] = [];
    const authed: number[] = [];
    const ratios: number[] = [];
    const cpuRatios: number[] = [];
    const openCpuUs: number[] = [];
    for (let r = 0; r < rounds; r++) {
      // ABBA order (open, auth, auth, open; then the mirror): position effects and
      // linear drift in the machine's load cancel within each round.
      const order = r % 2 === 0
        ? ["open", "auth", "auth", "open"]
        : ["auth", "open", "open", "auth"];
      const sums = { open: 0, auth: 0 };
      const cpu = { open: 0, auth: 0 };
      for (const which of order as ("open" | "auth")[]) {
        const node = await startNodeProcess(
          which === "auth" ? ["--auth-key", `${dir}/node.key`] : [],
          true,
        );
        try {
          const extra = ["--reality", "lab", ...(which === "auth" ? ["--token", token] : [])];
          const { accepted, delivered, cpuPerPulseUs } = await throughput(node, extra);
          (which === "auth" ? authed : open).push(accepted);
          sums[which] += accepted;
          cpu[which] += cpuPerPulseUs;
          if (which === "open") openCpuUs.push(cpuPerPulseUs);
          console.log(
            `  round ${r + 1} ${which.padEnd(4)}: node accepted ${Math.round(accepted)} pulses/s ` +
              `(sink saw ${Math.round(delivered)}/s), node CPU ${fmt(cpuPerPulseUs, 3)} µs/pulse`,
          );
        } finally {
          await node.stop();
        }
      }
      ratios.push(sums.auth / sums.open);
      cpuRatios.push(cpu.auth / cpu.open);
    }
    // The same question measured without machine noise: what one publish check and one
    // delivery check cost, against the node's whole per-pulse budget at the open rate.
    const checker = new PermissionChecker({
      ...parseGrants({
        realities: ["lab"],
        publish: { allow: ["bench.>", "calm.>"], deny: ["bench.secret.>", "bench.admin.*"] },
        subscribe: { allow: ["bench.>"], deny: ["bench.secret.>"] },
      }),
      subject: "bench",
      method: "token",
      expiresAtMs: Date.now() + 3600_000,
    });
    const n = 2_000_000;
    const t0 = performance.now();
    for (let i = 0; i < n; i++) {
      checker.authorizePublish("lab", "bench.load.data");
      checker.canReceive("bench.load.data");
    }
    const checkNs = ((performance.now() - t0) * 1e6) / n;
    // The node's whole CPU cost of one pulse (publish, route, deliver) without auth.
    const pulseNs = median(openCpuUs) * 1000;
    console.log(
      `  per pulse: publish + delivery check ${fmt(checkNs, 0)} ns of the node's ` +
        `${fmt(pulseNs / 1000, 2)} µs of CPU per pulse = ${
          fmt((checkNs / pulseNs) * 100, 2)
        }% of throughput`,
    );
    // Wall-clock throughput swings by tens of percent between identical runs on a shared
    // 2-core machine; the node's CPU time per accepted pulse is what auth actually adds
    // (throughput at saturation is its inverse), so it decides the target.
    const cpuCost = median(cpuRatios) - 1;
    console.log(
      `  throughput (informative): open ${Math.round(median(open))} pulses/s, auth ` +
        `${Math.round(median(authed))} pulses/s; per-round auth/open ` +
        `${ratios.map((r) => fmt(r, 3)).join(", ")}`,
    );
    console.log(
      `  node CPU per pulse, auth/open per round: ${cpuRatios.map((r) => fmt(r, 3)).join(", ")}; ` +
        `median ${fmt(median(cpuRatios), 3)} (auth costs ${
          fmt(cpuCost * 100, 1)
        }% of throughput; ` +
        `target < 5%: ${cpuCost < 0.05 ? "met" : "NOT met"})`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

switch (values.role) {
  case "calm":
    await calmRole();
    break;
  case "storm":
    await stormRole();
    break;
  case "sink":
    await sinkRole();
    break;
  case "source":
    await sourceRole();
    break;
  default:
    await main();
}
Deno.exit(0);
