/**
 * A node under V8's sampling CPU profiler (the inspector's `Profiler` domain through
 * `node:inspector`), for profiles with the node's own function names: Deno 2.9 has no
 * `--cpu-prof`, and `node --prof-process` of a `--prof` log mislabels much of Deno's
 * optimized code (a newer V8 than the processor's: a fifth of the ticks "unaccounted",
 * protobufjs's .proto tokenizer named on the publish path).
 *
 *   taskset -c 1 deno run -A bench/cpu_profile.ts run /tmp/p --port 0 --tcp-port 0 --data-dir /tmp/d
 *   kill -USR1 <pid>    # start sampling (after a warm-up load)
 *   kill -TERM <pid>    # stop: writes /tmp/p.cpuprofile (Chrome DevTools), then shuts down
 *   deno run -A bench/cpu_profile.ts summary /tmp/p.cpuprofile [rows]
 *
 * `run` takes the node's own flags after the output prefix; it opens V8's inspector (on
 * 127.0.0.1:9229) while the node runs: a tool for a bench machine, not for a node in use.
 * `summary` prints the share of samples by function, self and total (a function counted
 * once per sample however often it is on the stack); `(idle)` is the event loop waiting, and
 * `post ext:deno_node/inspector.js` the profiler's own stop.
 * @module
 */
import inspector from "node:inspector";
import { parseConfig, startNode } from "../runtime/node/mod.ts";

/** Starts a node; SIGUSR1 starts sampling, SIGTERM writes `<out>.cpuprofile` and stops. */
async function run(out: string, flags: string[]): Promise<void> {
  const session = new inspector.Session();
  session.connect();
  const post = <T>(method: string, params?: Record<string, unknown>) =>
    new Promise<T>((resolve, reject) =>
      session.post(method, params, (err, result) => err ? reject(err) : resolve(result as T))
    );
  await post("Profiler.enable");
  // 100 µs between samples: a few thousand samples a second of a busy node
  // (CPU_PROFILE_INTERVAL_US: a coarser one costs the node less, for paced loads).
  const interval = Number(Deno.env.get("CPU_PROFILE_INTERVAL_US") ?? 100);
  await post("Profiler.setSamplingInterval", { interval });
  const parsed = parseConfig(flags);
  if (parsed.help) return console.log(parsed.text);
  const node = await startNode(parsed.config);
  if (node.tcpUrl) console.log(`arqon: raw tcp listening on ${node.tcpUrl}`);
  console.log(`arqon: profiling node ready on ${node.url} (ws ${node.wsUrl}), pid ${Deno.pid}`);
  let sampling = false;
  Deno.addSignalListener("SIGUSR1", () => {
    if (!sampling) post("Profiler.start").then(() => sampling = true);
  });
  Deno.addSignalListener("SIGTERM", async () => {
    if (sampling) {
      const { profile } = await post<{ profile: unknown }>("Profiler.stop");
      Deno.writeTextFileSync(`${out}.cpuprofile`, JSON.stringify(profile));
    }
    await node.shutdown();
    Deno.exit(0);
  });
}

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

/** Prints the self and total shares of the `rows` heaviest functions of a `.cpuprofile`. */
function summary(path: string, rows: number): void {
  const p = JSON.parse(Deno.readTextFileSync(path)) as {
    nodes: ProfileNode[];
    samples: number[];
    timeDeltas: number[];
  };
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const name = (n: ProfileNode) => {
    const url = n.callFrame.url.replace(/^.*\/(runtime|casil|operators|node_modules)\//, "$1/");
    return `${n.callFrame.functionName || "(anonymous)"} ${url}:${n.callFrame.lineNumber + 1}`;
  };
  const self = new Map<string, number>();
  const total = new Map<string, number>();
  let all = 0;
  p.samples.forEach((id, i) => {
    const dt = p.timeDeltas[i] ?? 0;
    all += dt;
    const leaf = name(byId.get(id)!);
    self.set(leaf, (self.get(leaf) ?? 0) + dt);
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const key = name(byId.get(at)!);
      if (seen.has(key)) continue;
      seen.add(key);
      total.set(key, (total.get(key) ?? 0) + dt);
    }
  });
  for (const [title, shares] of [["self", self], ["total", total]] as const) {
    console.log(`\n${title} (of ${(all / 1000).toFixed(0)} ms sampled, idle included)`);
    const top = [...shares].sort((a, b) => b[1] - a[1]).slice(0, rows);
    for (const [key, t] of top) console.log(`${(100 * t / all).toFixed(1).padStart(6)}%  ${key}`);
  }
}

const [role, first, ...rest] = Deno.args;
if (role === "run" && first) await run(first, rest);
else if (role === "summary" && first) summary(first, Number(rest[0] ?? 40));
else {
  console.error("usage: cpu_profile.ts run <out-prefix> [node flags...] | summary <file> [rows]");
  Deno.exit(2);
}
