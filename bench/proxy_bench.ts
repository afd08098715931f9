/**
 * `deno task bench:proxy`: what the native proxy costs a caller. In the same run, against
 * the same upstream (a `Deno.serve` answering a 100-byte JSON body):
 *
 * - `direct`: HTTP POST to the upstream, keep-alive (fetch's pool), no bus;
 * - `bus`: a bus request on `svc.billing.charge` (TypeScript client, TCP_NODELAY) served
 *   by the proxy (`scripts/proxy.ts`) calling the upstream;
 * - `bus-echo`: the same bus request answered by a bus client that replies at once (no
 *   proxy, no HTTP): what the node's request/reply costs by itself;
 * - `http-bus-http`: HTTP POST to the proxy's listener, which requests on the bus, which
 *   the same proxy serves by calling the upstream (both directions of the proxy at once).
 *
 * Each path is measured two ways: latency at a fixed 1,000 requests/s (open loop: sends
 * are scheduled, not paced by answers; p50/p99 over the steady part), and throughput with
 * 64 requests in flight (closed loop). The node, the proxy and the upstream run as their
 * own processes pinned to CPU 1, the load pinned to CPU 0 (bench/support.ts). Speed is
 * measured here and never asserted in tests.
 *
 *   deno task bench:proxy
 *   BENCH_SECONDS=10 BENCH_RATES=200,1000 deno task bench:proxy
 *
 * Roles (spawned by the bench): `upstream <port>`, `echo <ws-url>`,
 * `load <path> <target> <rate|0> <seconds>`.
 * @module
 */
import { ArqonClient } from "../mod.ts";
import { freePort, LOAD_CPU, pinned, readLine, SERVER_CPU, startNodeProcess } from "./support.ts";
import { helpFromHeader } from "../scripts/task_cli.ts";

helpFromHeader(import.meta.url); // `--help`: the usage above, exit 0

const SECONDS = Number(Deno.env.get("BENCH_SECONDS") ?? 5);
const RATES = (Deno.env.get("BENCH_RATES") ?? "1000").split(",").map(Number);
const IN_FLIGHT = Number(Deno.env.get("BENCH_IN_FLIGHT") ?? 64);
const WARMUP_MS = 1000;
const here = new URL(import.meta.url).pathname;
const root = new URL("../", import.meta.url);
const BODY = new TextEncoder().encode(
  JSON.stringify({ amount: 1234, currency: "EUR", id: "x".repeat(60) }),
);

/** One load run's figures. */
interface LoadResult {
  path: string;
  mode: "rate" | "max";
  /** The fixed rate asked for (0 in max mode). */
  target_rate: number;
  /** Answers per second over the measured window. */
  rps: number;
  /** Answers in the measured window. */
  ok: number;
  errors: number;
  p50_ms: number;
  p99_ms: number;
  max_ms: number;
  /** The first failure seen, for the log. */
  first_error: string;
  /** Requests answered over the whole run, warm-up included. */
  total: number;
  /** CPU time per request of each server process, µs (set by the bench). */
  cpu_us?: Record<string, number>;
}

/** The upstream role: answers every POST with the same small JSON. */
function upstream(port: number): void {
  const answer = new TextEncoder().encode('{"ok":true,"charged":1234}');
  Deno.serve({ hostname: "127.0.0.1", port, onListen: () => console.log("ready") }, async (req) => {
    await req.arrayBuffer();
    return new Response(answer, { headers: { "content-type": "application/json" } });
  });
}

/** The echo role: a bus responder on `svc.echo.>` answering like the upstream, at once. */
async function echo(wsUrl: string): Promise<void> {
  const client = await ArqonClient.connect(wsUrl, { name: "proxy-bench-echo", noDelay: true });
  const answer = new TextEncoder().encode('{"ok":true,"charged":1234}');
  const sub = client.subscribe("svc.echo.>", {
    onPulse: (p) => {
      client.reply(p, answer, {
        headers: { "http-status": "200" },
        contentType: "application/json",
      });
    },
  });
  await sub.ready;
  console.log("ready");
}

type Call = () => Promise<boolean>;

async function callFor(
  path: string,
  target: string,
): Promise<{ call: Call; close: () => Promise<void> }> {
  if (path === "bus" || path === "bus-echo") {
    const client = await ArqonClient.connect(target, { name: "proxy-bench", noDelay: true });
    const topic = path === "bus" ? "svc.billing.charge" : "svc.echo.charge";
    return {
      call: async () => {
        const reply = await client.request(topic, BODY, { timeoutMs: 10_000 });
        return reply.headers?.["http-status"] === "200";
      },
      close: () => client.close(),
    };
  }
  // direct and http-bus-http: HTTP with fetch's keep-alive pool.
  return {
    call: async () => {
      const res = await fetch(target, {
        method: "POST",
        body: BODY,
        headers: { "content-type": "application/json" },
      });
      await res.arrayBuffer();
      return res.status === 200;
    },
    close: () => Promise.resolve(),
  };
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return -1;
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
}

/** The load role: `rate` requests/s open loop, or (rate 0) IN_FLIGHT closed loop. */
async function load(
  path: string,
  target: string,
  rate: number,
  seconds: number,
): Promise<LoadResult> {
  const { call, close } = await callFor(path, target);
  for (let i = 0; i < 50; i++) await call(); // connections up, code warm
  const t0 = performance.now();
  const measureFrom = t0 + WARMUP_MS;
  const end = measureFrom + seconds * 1000;
  const latencies: number[] = [];
  let ok = 0;
  let errors = 0;
  let total = 50;
  let firstError = "";
  const one = async () => {
    const start = performance.now();
    let good = false;
    try {
      good = await call();
      if (!good) firstError ||= "non-200 answer";
    } catch (err) {
      firstError ||= String(err);
    }
    const done = performance.now();
    total++;
    // Counted by when it was sent: a slow answer is a latency, not a loss.
    if (start >= measureFrom && start < end) {
      if (good) {
        ok++;
        latencies.push(done - start);
      } else errors++;
    }
  };
  if (rate > 0) {
    // Open loop: every due send goes out at each timer turn, whatever is still in flight.
    const inFlight = new Set<Promise<void>>();
    let sent = 0;
    while (performance.now() < end) {
      const due = Math.floor((performance.now() - t0) * rate / 1000);
      while (sent < due) {
        const p = one();
        inFlight.add(p);
        p.finally(() => inFlight.delete(p));
        sent++;
      }
      await new Promise((r) => setTimeout(r, 1));
    }
    await Promise.all(inFlight);
  } else {
    await Promise.all(Array.from({ length: IN_FLIGHT }, async () => {
      while (performance.now() < end) await one();
    }));
  }
  await close();
  latencies.sort((a, b) => a - b);
  const round = (x: number) => Math.round(x * 1000) / 1000;
  return {
    path,
    mode: rate > 0 ? "rate" : "max",
    target_rate: rate,
    rps: Math.round(ok / seconds),
    ok,
    errors,
    p50_ms: round(percentile(latencies, 0.5)),
    p99_ms: round(percentile(latencies, 0.99)),
    max_ms: round(latencies.at(-1) ?? -1),
    first_error: firstError,
    total,
  };
}

function spawnRole(args: string[], cpu: string | null): Deno.ChildProcess {
  const [cmd, full] = pinned(cpu, Deno.execPath(), ["run", "-A", here, ...args]);
  return new Deno.Command(cmd, { args: full, stdout: "piped", stderr: "inherit" }).spawn();
}

/** CPU seconds (user + system) process `pid` has used; NaN off Linux. */
function cpuOf(pid: number): number {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return NaN;
  }
}

/**
 * Runs one load and adds each server process's CPU time per answered request (µs): a
 * figure that holds on a busy machine, where latencies mostly measure the neighbours.
 */
async function runLoad(
  path: string,
  target: string,
  rate: number,
  servers: Record<string, number>,
): Promise<LoadResult> {
  const before = Object.fromEntries(Object.entries(servers).map(([k, pid]) => [k, cpuOf(pid)]));
  const child = spawnRole(["load", path, target, String(rate), String(SECONDS)], LOAD_CPU);
  const out = await child.output();
  const text = new TextDecoder().decode(out.stdout).trim();
  const result = JSON.parse(text.split("\n").at(-1)!) as LoadResult;
  // Every request of the run (warm-up included) is in the CPU figure: divide by all of them.
  const answered = result.total;
  result.cpu_us = Object.fromEntries(
    Object.entries(servers).map((
      [k, pid],
    ) => [k, Math.round((cpuOf(pid) - before[k]) / answered * 1e6)]),
  );
  return result;
}

async function main(): Promise<void> {
  const node = await startNodeProcess(["--memory"], SERVER_CPU);
  const upPort = freePort();
  const up = spawnRole(["upstream", String(upPort)], SERVER_CPU);
  const upReader = up.stdout.pipeThrough(new TextDecoderStream()).getReader();
  if ((await readLine(upReader)).trim() !== "ready") throw new Error("upstream failed");
  const upstreamUrl = `http://127.0.0.1:${upPort}`;
  const listenPort = freePort();
  const [cmd, args] = pinned(SERVER_CPU, Deno.execPath(), [
    "run",
    "-A",
    new URL("scripts/proxy.ts", root).pathname,
    "--bus",
    node.wsUrl,
    "--upstream",
    upstreamUrl,
    "--serve",
    "svc.billing.>",
    "--listen",
    `127.0.0.1:${listenPort}`,
  ]);
  const proxy = new Deno.Command(cmd, { args, stdout: "piped", stderr: "inherit" }).spawn();
  const proxyReader = proxy.stdout.pipeThrough(new TextDecoderStream()).getReader();
  if (!(await readLine(proxyReader)).includes("proxy ready")) throw new Error("proxy failed");
  const responder = spawnRole(["echo", node.wsUrl], SERVER_CPU);
  const echoReader = responder.stdout.pipeThrough(new TextDecoderStream()).getReader();
  if ((await readLine(echoReader)).trim() !== "ready") throw new Error("echo failed");
  const targets: [string, string][] = [
    ["direct", `${upstreamUrl}/charge`],
    ["bus-echo", node.wsUrl],
    ["bus", node.wsUrl],
    ["http-bus-http", `http://127.0.0.1:${listenPort}/svc/billing/charge`],
  ];
  const results: LoadResult[] = [];
  try {
    for (const rate of [...RATES, 0]) {
      for (const [path, target] of targets) {
        const r = await runLoad(path, target, rate, {
          node: node.pid,
          proxy: proxy.pid,
          upstream: up.pid,
          echo: responder.pid,
        });
        results.push(r);
        console.error(JSON.stringify(r));
      }
    }
  } finally {
    proxy.kill("SIGTERM");
    await proxy.status;
    responder.kill("SIGTERM");
    await responder.status;
    up.kill("SIGTERM");
    await up.status;
    await node.stop();
  }
  console.log(
    `\nproxy bench: ${SECONDS} s per run, fixed rates ${RATES.join(", ")} req/s (open loop), ` +
      `${IN_FLIGHT} in flight for max; load average ${
        Deno.loadavg().map((x) => x.toFixed(1)).join(" ")
      }`,
  );
  console.log(
    "path           mode         req/s   p50 ms   p99 ms   max ms  errors" +
      "   CPU µs/req: node proxy upstream echo",
  );
  for (const r of results) {
    const cpu = r.cpu_us ?? {};
    console.log(
      `${r.path.padEnd(15)}${(r.mode === "rate" ? `${r.target_rate}/s` : "max").padEnd(10)}` +
        `${String(r.rps).padStart(8)}${r.p50_ms.toFixed(3).padStart(9)}` +
        `${r.p99_ms.toFixed(3).padStart(9)}${r.max_ms.toFixed(3).padStart(9)}` +
        `${String(r.errors).padStart(8)}${String(cpu.node).padStart(18)}` +
        `${String(cpu.proxy).padStart(6)}${String(cpu.upstream).padStart(9)}${
          String(cpu.echo).padStart(5)
        }`,
    );
  }
  for (const rate of RATES) {
    const at = (path: string) => results.find((r) => r.path === path && r.target_rate === rate)!;
    const over = at("bus").p50_ms - at("direct").p50_ms;
    const node = at("bus-echo").p50_ms - at("direct").p50_ms;
    // A path that fell behind the schedule measures its own queue, not its latency.
    const behind = ["direct", "bus-echo", "bus"].filter((p) =>
      at(p).rps < rate * 0.95 || at(p).errors > 0
    );
    const verdict = behind.length > 0
      ? `not measured: ${behind.join(", ")} did not keep ${rate} req/s (busy machine?)`
      : over <= 1
      ? "met"
      : "NOT met";
    console.log(
      `at ${rate} req/s: bus through the proxy adds ${over.toFixed(3)} ms p50 over direct HTTP ` +
        `(target <= 1 ms: ${verdict}); a bus round trip with no proxy adds ${node.toFixed(3)} ms`,
    );
  }
}

if (import.meta.main) {
  const [role, ...rest] = Deno.args;
  if (role === "upstream") upstream(Number(rest[0]));
  else if (role === "echo") await echo(rest[0]);
  else if (role === "load") {
    const [path, target, rate, seconds] = rest;
    console.log(JSON.stringify(await load(path, target, Number(rate), Number(seconds))));
  } else await main();
}
