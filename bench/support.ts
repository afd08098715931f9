/**
 * Plumbing the benchmarks share: starting a node or nats-server as its own process
 * (optionally pinned to a CPU), spawning load roles, reading their output, and turning a
 * subscriber's arrival buckets into a steady delivery rate.
 * @module
 */

const root = new URL("../", import.meta.url);

/** Whether CPU pinning with taskset is possible here. */
export const CAN_PIN = Deno.build.os === "linux" && navigator.hardwareConcurrency >= 2;
/** The CPU the server under test runs on when pinned. */
export const SERVER_CPU = "1";
/** The CPU the load processes run on when pinned. */
export const LOAD_CPU = "0";

/** A command line, run under `taskset -c <cpu>` when `cpu` is given. */
export function pinned(cpu: string | null, cmd: string, args: string[]): [string, string[]] {
  return cpu !== null && CAN_PIN ? ["taskset", ["-c", cpu, cmd, ...args]] : [cmd, args];
}

/** A free TCP port on loopback. */
export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** Reads up to the next newline (or the end) from a text stream. */
export async function readLine(reader: ReadableStreamDefaultReader<string>): Promise<string> {
  let buf = "";
  while (true) {
    const { value, done } = await reader.read();
    if (done) return buf;
    buf += value;
    const nl = buf.indexOf("\n");
    if (nl >= 0) return buf.slice(0, nl);
  }
}

/**
 * CPU seconds process `pid` has used (user + system, fields 14 and 15 of
 * /proc/<pid>/stat, in clock ticks of 1/100 s); NaN off Linux or once it is gone.
 */
export function cpuSecondsOf(pid: number): number {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return NaN;
  }
}

/** A node running as a child process. */
export interface NodeProcess {
  /** Process id (of `taskset` when pinned: it execs the node, keeping the id). */
  readonly pid: number;
  readonly wsUrl: string;
  /** The raw TCP listener (`tcp://…`) when started with `--tcp-port`, else null. */
  readonly tcpUrl: string | null;
  readonly httpUrl: string;
  /** Spawn to ready line, ms. */
  readonly readyMs: number;
  /** CPU seconds the process has used (user + system), NaN off Linux. */
  cpuSeconds(): number;
  /** SIGTERM, wait, remove its temporary data directory. */
  stop(): Promise<void>;
}

/**
 * Starts `mod.ts` on an ephemeral port with `flags`, on `cpu` when given; `modPath` runs
 * another build's entry (a bench comparing two checkouts).
 */
/**
 * The V8 flag a node runs with (as `deno task start` runs it): an old generation of 64 MB from
 * the start. Without it, a node that first served light traffic kept its old generation's
 * limit at the small heap of that traffic, and a later flood ran 39 incremental mark-compacts
 * in 4 s (16% of the node's CPU in the collector against 0.8% after a flood-first warm-up): a
 * critical stream's p99 went from 3 to 26 ms and the flood's rate fell by 40%
 * (docs/performance.md, "Agents on an idle machine").
 */
export const NODE_V8_FLAGS = "--v8-flags=--initial-old-space-size=64";

export async function startNodeProcess(
  flags: string[],
  cpu: string | null = null,
  modPath = new URL("mod.ts", root).pathname,
): Promise<NodeProcess> {
  const [cmd, args] = pinned(cpu, Deno.execPath(), [
    "run",
    "-A",
    NODE_V8_FLAGS,
    modPath,
    "--port",
    "0",
    ...flags,
  ]);
  const t0 = performance.now();
  const child = new Deno.Command(cmd, { args, stdout: "piped", stderr: "null" }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  while (!/\(ws (ws:\/\/\S+)\)/.test(buf)) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`node did not start: ${buf}`);
    buf += value;
  }
  const readyMs = performance.now() - t0;
  const wsUrl = buf.match(/\(ws (ws:\/\/\S+)\)/)![1];
  const httpUrl = buf.match(/ready on (http:\/\/\S+)/)![1];
  const tcpUrl = buf.match(/raw tcp listening on ((tcp|tls):\/\/\S+)/)?.[1] ?? null;
  // Keep draining stdout so the node never blocks on a full pipe.
  (async () => {
    try {
      while (!(await reader.read()).done) { /* discard */ }
    } catch { /* closed */ }
  })();
  return {
    pid: child.pid,
    wsUrl,
    tcpUrl,
    httpUrl,
    readyMs,
    cpuSeconds: () => cpuSecondsOf(child.pid),
    async stop() {
      child.kill("SIGTERM");
      await child.status;
    },
  };
}

/** Starts nats-server (Debian package) on a free loopback port, on `cpu` when given. */
export async function startNats(
  cpu: string | null = null,
  extra: string[] = [],
): Promise<
  { url: string; port: number; pid: number; cpuSeconds(): number; stop: () => Promise<void> }
> {
  const port = freePort();
  const [cmd, args] = pinned(cpu, "nats-server", ["-a", "127.0.0.1", "-p", String(port), ...extra]);
  const child = new Deno.Command(cmd, { args, stdout: "null", stderr: "null" }).spawn();
  for (let i = 0; i < 100; i++) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      return {
        url: `127.0.0.1:${port}`,
        port,
        pid: child.pid,
        cpuSeconds: () => cpuSecondsOf(child.pid),
        stop: async () => {
          child.kill("SIGTERM");
          await child.status;
        },
      };
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error("nats-server did not start (apt-get install nats-server)");
}

/** Spawns `deno run -A <script> ...args` with piped stdio, on `cpu` when given. */
export function spawnScript(script: string, args: string[], cpu: string | null = null) {
  const [cmd, full] = pinned(cpu, Deno.execPath(), ["run", "-A", script, ...args]);
  return new Deno.Command(cmd, {
    args: full,
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
}

/**
 * Delivered pulses per second: starts a subscriber process (which prints `ready`, counts
 * arrivals in 100 ms buckets and prints them when its stdin closes), runs a publisher
 * process to completion, and averages the steady buckets (skipping the first 0.5 s and
 * the tail after the publisher stopped).
 */
export async function deliveryRate(
  spawnSub: () => Deno.ChildProcess,
  spawnPub: () => Deno.ChildProcess,
  seconds: number,
): Promise<number> {
  return (await deliveries(spawnSub, spawnPub, seconds)).rate;
}

/**
 * `deliveryRate`, with the count of every delivery the subscriber saw (for costs per
 * delivered pulse, e.g. the server's CPU over the run divided by it), and what the load
 * processes report of themselves when they do (bench/loadgen.ts): pulses sent and the CPU
 * time the publisher and the subscriber spent, µs (NaN when not reported).
 */
export async function deliveries(
  spawnSub: () => Deno.ChildProcess,
  spawnPub: () => Deno.ChildProcess,
  seconds: number,
): Promise<
  { rate: number; delivered: number; sent: number; pubCpuUs: number; subCpuUs: number }
> {
  const sub = spawnSub();
  const reader = sub.stdout.pipeThrough(new TextDecoderStream()).getReader();
  if ((await readLine(reader)).trim() !== "ready") throw new Error("subscriber failed");
  const pub = spawnPub();
  pub.stdin.close();
  const pubOut = new TextDecoder().decode((await pub.output()).stdout);
  await new Promise((r) => setTimeout(r, 300));
  await sub.stdin.close();
  let rest = "";
  while (true) {
    const { value, done } = await reader.read();
    if (done) break;
    rest += value;
  }
  await sub.status;
  const { buckets, cpuUs: subCpuUs } = JSON.parse(rest.trim().split("\n").at(-1)!) as {
    buckets: number[];
    cpuUs?: number;
  };
  let pubReport: { sent?: number; cpuUs?: number } = {};
  try {
    pubReport = JSON.parse(pubOut.trim().split("\n").at(-1) ?? "");
  } catch { /* a publisher that reports nothing (the Go client) */ }
  const steady = buckets.slice(5, Math.max(6, seconds * 10 - 2));
  return {
    rate: Math.round(steady.reduce((a, b) => a + b, 0) / steady.length * 10),
    delivered: buckets.reduce((a, b) => a + b, 0),
    sent: pubReport.sent ?? NaN,
    pubCpuUs: pubReport.cpuUs ?? NaN,
    subCpuUs: subCpuUs ?? NaN,
  };
}

/**
 * Builds a Go program of bench/ against Debian's Go packages (GOPATH /usr/share/gocode,
 * no modules: offline). When `go` or the packages are missing and the bench runs as root,
 * it installs them first with apt-get (`packages`), as the bench's own setup; returns the
 * binary's path, or null saying why when it cannot.
 */
export async function buildGo(
  source: URL,
  dir: string,
  packages: string[] = ["golang-go", "golang-github-nats-io-go-nats-dev"],
  needs = "/usr/share/gocode/src/github.com/nats-io/nats.go",
): Promise<string | null> {
  const present = () => {
    try {
      return new Deno.Command("go", { args: ["version"], stdout: "null", stderr: "null" })
        .outputSync().success && Deno.statSync(needs).isDirectory;
    } catch {
      return false;
    }
  };
  if (!present() && Deno.uid() === 0) {
    console.log(`(installing ${packages.join(" ")} with apt-get for the Go client)`);
    await new Deno.Command("apt-get", {
      args: ["install", "-y", "-qq", "--no-install-recommends", ...packages],
      env: { DEBIAN_FRONTEND: "noninteractive" },
      stdout: "null",
      stderr: "null",
    }).output().catch(() => null);
  }
  if (!present()) {
    console.log(`(Go client skipped: needs \`go\` and ${packages.join(", ")})`);
    return null;
  }
  const binary = `${dir}/${source.pathname.split("/").at(-2)}`;
  const out = await new Deno.Command("go", {
    args: ["build", "-o", binary, source.pathname],
    env: {
      GOPATH: "/usr/share/gocode",
      GO111MODULE: "off",
      GOFLAGS: "",
      GOCACHE: `${dir}/gocache`,
    },
    cwd: dir,
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!out.success) {
    console.log(`(Go client not built: ${new TextDecoder().decode(out.stderr).trim()})`);
    return null;
  }
  return binary;
}

/** Spawns a built binary with piped stdio, on `cpu` when given. */
export function spawnBinary(binary: string, args: string[], cpu: string | null = null) {
  const [cmd, full] = pinned(cpu, binary, args);
  return new Deno.Command(cmd, {
    args: full,
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
}

/** The median of a list of numbers. */
export function median(xs: number[]): number {
  return [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
}

/** `a` then `b`, in one new array (raw clients joining a partial read with the next). */
export function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/** A frame as the raw TCP transport carries it: its length, 4 bytes big-endian, then it. */
export function lengthPrefixed(frame: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + frame.length);
  new DataView(out.buffer).setUint32(0, frame.length);
  out.set(frame, 4);
  return out;
}

/** Reads `conn` until `text` has arrived (a raw client waiting for the welcome). */
export async function readUntil(conn: Deno.Conn, text: string): Promise<void> {
  const buf = new Uint8Array(4096);
  let seen = "";
  while (!seen.includes(text)) {
    const n = await conn.read(buf);
    if (n === null) throw new Error(`closed before ${text}`);
    seen += new TextDecoder().decode(buf.subarray(0, n));
  }
}
