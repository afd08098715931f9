/**
 * `deno task bench:replay`: how fast a recorded reality replays through `mesh-coherence`,
 * against the live rate at which it was recorded, in the same run (issue #14, item 7;
 * target: replay at least 5x the live rate).
 *
 * 1. Live: a node (`--memory`, pinned to CPU 1) with reality `rec` storing everything and the
 *    built-in `mesh-coherence` on `mesh.node.>`; this process (the load; not pinned itself:
 *    a pinned launcher would turn the node's pinning off) publishes `--pulses` node reports
 *    with our client, acknowledged,
 *    at most `--window` ahead of the operator. Live rate = pulses / time from the first
 *    publish until the operator handled the last.
 * 2. Replay: `POST /v1/realities/rec/fork` re-runs the recorded inputs through a fresh
 *    instance of the same operator; replay rate = inputs / time until the fork is `done`.
 * 3. Check: `GET /v1/realities/rec/diff/rec-replay` must say identical (the same outputs).
 *
 * Beside each rate, the node's CPU time per pulse over that phase (all its threads: the
 * operator's Worker and V8's helpers too): on a shared machine the node gets a varying share
 * of its CPU, and the CPU ratio says what the rate ratio would be with the CPU to itself.
 *
 *   deno task bench:replay [--pulses 200000] [--window 4000] [--no-pin]
 *
 * The issue names a 1M-pulse reality: `--pulses 1000000` (about a minute here).
 * @module
 */
import { parseArgs } from "node:util";
import { helpFromHeader } from "../../scripts/task_cli.ts";
import { ArqonClient } from "../../mod.ts";
import { CAN_PIN, SERVER_CPU, startNodeProcess } from "../support.ts";

helpFromHeader(import.meta.url);

const { values } = parseArgs({
  args: Deno.args,
  options: {
    pulses: { type: "string", default: "200000" },
    window: { type: "string", default: "4000" },
    "no-pin": { type: "boolean", default: false },
  },
});
const N = Number(values.pulses);
const WINDOW = Number(values.window);
if (!Number.isSafeInteger(N) || N < 1 || !Number.isSafeInteger(WINDOW) || WINDOW < 1) {
  console.error("bench:replay: --pulses and --window are positive integers");
  Deno.exit(2);
}
const pin = CAN_PIN && !values["no-pin"];

const node = await startNodeProcess(["--memory"], pin ? SERVER_CPU : null);
const http = async (method: string, path: string, body?: unknown) => {
  const res = await fetch(`${node.httpUrl}${path}`, {
    method,
    headers: body === undefined ? {} : { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : null;
};
const handled = async () => (await http("GET", "/v1/operators/mesh")).counters.pulsesIn as number;

try {
  await http("PUT", "/v1/realities/rec", { retention: [{ pattern: ">" }] });
  await http("PUT", "/v1/operators/mesh", {
    builtin: "mesh-coherence",
    reality: "rec",
    inputs: ["mesh.node.>"],
  });
  const client = await ArqonClient.connect(node.wsUrl, { noDelay: true });
  const encoder = new TextEncoder();
  const payloads = Array.from({ length: 64 }, (_, i) =>
    encoder.encode(JSON.stringify({
      node_id: `n${i % 16}`,
      phase: { real: Math.cos(i), imag: Math.sin(i * 0.7) },
      coherence: (i % 10) / 10,
      weight: 1 + (i % 5),
      tau_ms: 500,
    })));

  // 1. Live recording.
  const c0 = node.cpuSeconds();
  const t0 = performance.now();
  let sent = 0;
  let done = 0;
  while (sent < N) {
    const batch: Promise<unknown>[] = [];
    const until = Math.min(N, sent + 500);
    for (; sent < until; sent++) {
      batch.push(
        client.publish(`mesh.node.n${sent % 16}`, payloads[sent % 64], { reality: "rec" }),
      );
    }
    await Promise.all(batch);
    // At most WINDOW ahead of the operator: its input queue never overflows.
    while (sent - done > WINDOW) {
      done = await handled();
      if (sent - done > WINDOW) await new Promise((r) => setTimeout(r, 2));
    }
  }
  while ((done = await handled()) < N) await new Promise((r) => setTimeout(r, 2));
  const liveMs = performance.now() - t0;
  const liveCpu = (node.cpuSeconds() - c0) / N * 1e6;
  await client.close();
  const live = N / (liveMs / 1000);
  const liveHandle = (await http("GET", "/v1/operators/mesh")).handle_ms;

  // 2. Replay.
  const c1 = node.cpuSeconds();
  const t1 = performance.now();
  await http("POST", "/v1/realities/rec/fork", { name: "rec-replay" });
  let status;
  do {
    await new Promise((r) => setTimeout(r, 20));
    status = await http("GET", "/v1/realities/rec-replay/fork");
  } while (status.state === "running");
  const replayMs = performance.now() - t1;
  const replayCpu = (node.cpuSeconds() - c1) / status.processed * 1e6;
  if (status.state !== "done") throw new Error(`replay ${status.state}: ${status.reason}`);
  const replayRate = status.processed / (replayMs / 1000);

  // 3. Same outputs.
  const diff = await http("GET", "/v1/realities/rec/diff/rec-replay");
  const load = (await Deno.readTextFile("/proc/loadavg").catch(() => "?")).split(" ").slice(0, 3)
    .join(" ");
  console.log(
    `bench:replay: ${N} pulses through mesh-coherence (node ${
      pin ? "pinned to CPU 1" : "not pinned"
    }, load ${load})`,
  );
  console.log(
    `  live recording : ${live.toFixed(0).padStart(8)} pulses/s (${
      (liveMs / 1000).toFixed(2)
    } s; node CPU ${liveCpu.toFixed(1)} µs/pulse)`,
  );
  console.log(
    `  replay (fork)  : ${replayRate.toFixed(0).padStart(8)} pulses/s (${
      (replayMs / 1000).toFixed(2)
    } s, ${status.processed} inputs; node CPU ${replayCpu.toFixed(1)} µs/input)`,
  );
  console.log(
    `  mesh-coherence : handle p50 ${liveHandle.p50} ms, p99 ${liveHandle.p99} ms per batch (live)`,
  );
  console.log(`  ratio          : ${(replayRate / live).toFixed(2)}x the live rate (target >= 5x)`);
  console.log(
    `  CPU ratio      : ${(liveCpu / replayCpu).toFixed(2)}x (live CPU per pulse / replay's)`,
  );
  console.log(
    `  outputs        : ${diff.outputs.a} recorded, ${diff.outputs.b} replayed, identical: ${diff.identical}`,
  );
  if (!diff.identical) {
    console.error(`bench:replay: the replay diverged: ${diff.summary}`);
    Deno.exitCode = 1;
  }
} finally {
  await node.stop();
}
