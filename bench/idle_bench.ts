/**
 * `deno task bench:idle`: node memory per idle WebSocket connection, the node's own
 * WebSocket server (`--ws-engine arqon`) against Deno's built-in one (`--ws-engine deno`)
 * in the same run.
 *
 * For each engine: starts a node as its own process, opens and closes a few connections
 * (so code paths are compiled and pools exist), reads its resident set size
 * (/proc/<pid>/status VmRSS), then opens idle connections from separate client processes
 * (bench/idle_clients.ts: raw frames, a hello each, at most 10,000 connections a process
 * for the open-file limit) in steps, reading the RSS after each step once it settled.
 * Prints KB per connection at each step.
 *
 *   deno task bench:idle [--steps 1000,5000,15000] [--engines arqon,deno] [--settle-ms 3000]
 * @module
 */
import { helpFromHeader } from "../scripts/task_cli.ts";
import { parseArgs } from "node:util";
import { readLine, spawnScript, startNodeProcess } from "./support.ts";

helpFromHeader(import.meta.url); // `--help`: the usage above, exit 0

const CLIENTS = new URL("./idle_clients.ts", import.meta.url).pathname;

/** VmRSS of a process, in bytes. */
export function rssOf(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  return Number(status.match(/^VmRSS:\s+(\d+) kB/m)![1]) * 1024;
}

/** A client process holding idle connections to `port`. */
export interface IdleClients {
  /** Connections it holds. */
  readonly opened: number;
  /** Closes its connections and waits for it to exit. */
  stop(): Promise<void>;
}

/** Connections one client process opens at most (the open-file limit is per process). */
export const PER_PROCESS = 10_000;

/** Spawns a client process opening `count` idle connections; resolves once they are open. */
export async function openIdle(port: number, count: number): Promise<IdleClients> {
  const child = spawnScript(CLIENTS, [String(port), String(count)]);
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const line = (await readLine(reader)).trim();
  const opened = Number(line.match(/^ready (\d+)$/)?.[1] ?? NaN);
  if (!Number.isFinite(opened)) {
    child.kill("SIGKILL");
    await child.status;
    throw new Error(`idle client failed: ${line}`);
  }
  return {
    opened,
    async stop() {
      await child.stdin.close().catch(() => {});
      await child.status;
      reader.cancel().catch(() => {});
    },
  };
}

/** Opens `count` idle connections from as many processes as the open-file limit needs. */
export async function openIdleMany(
  port: number,
  count: number,
  perProcess: number = PER_PROCESS,
): Promise<IdleClients[]> {
  const out: IdleClients[] = [];
  for (let left = count; left > 0; left -= perProcess) {
    out.push(await openIdle(port, Math.min(left, perProcess)));
  }
  return out;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Measures one engine: KB per connection after each step. */
async function measure(
  engine: string,
  steps: number[],
  settleMs: number,
  perProcess: number,
): Promise<{ base: number; kb: number[]; held: number[] }> {
  const dataDir = await Deno.makeTempDir({ prefix: "arqon-idle-" });
  const node = await startNodeProcess([
    "--ws-engine",
    engine,
    "--data-dir",
    dataDir,
    "--sync",
    "os",
  ]);
  const port = Number(new URL(node.httpUrl).port);
  const clients: IdleClients[] = [];
  try {
    // Warm-up: compiled code, pools and the first session's lazily created state.
    const warm = await openIdle(port, 1000);
    await warm.stop();
    await sleep(settleMs);
    const base = rssOf(node.pid);
    const kb: number[] = [];
    const held: number[] = [];
    let open = 0;
    for (const step of steps) {
      const more = await openIdleMany(port, step - open, perProcess);
      clients.push(...more);
      open += more.reduce((a, c) => a + c.opened, 0);
      await sleep(settleMs);
      const rss = rssOf(node.pid);
      held.push(open);
      kb.push((rss - base) / 1024 / open);
      console.error(`  ${engine}: ${open} idle connections, RSS ${(rss / 1048576).toFixed(0)} MB`);
    }
    return { base, kb, held };
  } finally {
    for (const c of clients) await c.stop();
    await node.stop();
    await Deno.remove(dataDir, { recursive: true }).catch(() => {});
  }
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      steps: { type: "string", default: "1000,5000,15000" },
      engines: { type: "string", default: "arqon,deno" },
      "settle-ms": { type: "string", default: "3000" },
      "per-process": { type: "string", default: String(PER_PROCESS) },
    },
  });
  const STEPS = values.steps.split(",").map(Number);
  const results = new Map<string, { base: number; kb: number[]; held: number[] }>();
  for (const engine of values.engines.split(",")) {
    results.set(
      engine,
      await measure(engine, STEPS, Number(values["settle-ms"]), Number(values["per-process"])),
    );
  }
  console.log("\nKB of node RSS per idle WebSocket connection (hello said, nothing else)");
  console.log(
    ["engine".padEnd(8), "base MB".padStart(8), ...STEPS.map((s) => `@${s}`.padStart(9))].join(
      " ",
    ),
  );
  for (const [engine, r] of results) {
    const cells = r.kb.map((k, i) =>
      `${k.toFixed(1)}${r.held[i] < STEPS[i] ? "*" : ""}`.padStart(9)
    );
    console.log([engine.padEnd(8), (r.base / 1048576).toFixed(0).padStart(8), ...cells].join(" "));
  }
  if ([...results.values()].some((r) => r.held.some((h, i) => h < STEPS[i]))) {
    console.log("* fewer connections than asked were open (refused or out of descriptors)");
  }
}
