/**
 * `deno task bench:store`: the durable log against NATS JetStream (R1, file storage) on
 * this machine, in the same run, with 1 KB payloads. Servers run on CPU 1, every load
 * process on CPU 0 (bench/support.ts); each load process is its own (bench/store_roles.ts).
 *
 * 1. Durable-acked publish throughput, two publisher processes per peer, each keeping
 *    `--inflight` publishes outstanding (ArqonBus TS client with `ack: "durable"`; nats.js
 *    `js.publish`; Go's nats.go `PublishAsync`, JetStream's best client: bench/jetstream_pub,
 *    built here, Go apt-installed when missing and run as root). ArqonBus is also driven by
 *    a Go publisher of the same loop and cost (bench/arqon_pub: raw TCP frames written by
 *    hand, no SDK), so the servers are compared with equally cheap publishers: the TS
 *    client costs about 10 µs of CPU per ack, Go's about 1-3. What an ack means:
 *    - JetStream (nats-server 2.9, default `sync_interval` 2 min): the message is written
 *      to the stream's file (the OS page cache) before the ack; fsync comes later.
 *    - ArqonBus `--sync os`: the same promise, the group commit written to SQLite's WAL
 *      (the OS page cache) before the ack, fsync at checkpoints: the like-for-like figure.
 *    - ArqonBus `--sync batch` (the default): fsync of each group commit before its acks,
 *      which JetStream 2.9 cannot do (`sync_interval: always` is 2.10+): a stronger promise,
 *      shown beside.
 * 2. History read of the same number of pulses from both (the smaller store's count), each
 *    reader a pinned process making `--passes` timed reads after an untimed one (the JIT
 *    warms in it), best pass shown, with the server's CPU per pulse in that pass:
 *    `history.get` over WebSocket and raw TCP with the TS client (which returns every
 *    pulse, kept as received and decoded on access), and JetStream ordered consumers with
 *    nats.js and Go (bench/jetstream_read), which count messages as they arrive. Also the
 *    store scanned in-process, and HTTP NDJSON.
 *    `--other <checkout>` also reads with that checkout's node and client (its
 *    bench/store_roles.ts, copied from this one if older), in the same run.
 * 3. Restart: a store holding `--fill` pulses (default 1M): open time and node
 *    spawn-to-ready time.
 *
 *   deno task bench:store [--seconds 5] [--inflight 1024] [--passes 3] [--fill 1000000]
 *                         [--other <checkout>]
 * @module
 */
import { helpFromHeader } from "../scripts/task_cli.ts";
import { parseArgs } from "node:util";
import { connect as natsConnect, RetentionPolicy, StorageType } from "nats";
import { decodePulse, encodePulse } from "../runtime/protocol/mod.ts";
import { openStore } from "../runtime/store/mod.ts";
import {
  buildGo,
  cpuSecondsOf,
  LOAD_CPU,
  pinned,
  SERVER_CPU,
  startNats as startNatsServer,
  startNodeProcess,
} from "./support.ts";

helpFromHeader(import.meta.url); // `--help`: the usage above, exit 0

const PAYLOAD = 1024;
const roles = new URL("store_roles.ts", import.meta.url).pathname;

// ------------------------------------------------------------------ orchestration

const { values } = parseArgs({
  args: Deno.args,
  options: {
    seconds: { type: "string", default: "5" },
    inflight: { type: "string", default: "1024" },
    publishers: { type: "string", default: "2" },
    passes: { type: "string", default: "3" },
    fill: { type: "string", default: "1000000" },
    other: { type: "string" },
  },
});
const OTHER = values.other ? new URL(`${values.other.replace(/\/$/, "")}/`, "file:///") : null;
const SECONDS = Number(values.seconds);
const INFLIGHT = Number(values.inflight);
const PUBLISHERS = Number(values.publishers);
const PASSES = Number(values.passes);
const FILL = Number(values.fill);

/** The node on `dataDir` (on the server CPU with `cpu`), from bench/support.ts. */
async function startArqon(dataDir: string, args: string[] = [], cpu: string | null = null) {
  const node = await startNodeProcess(["--data-dir", dataDir, ...args], cpu);
  return { ...node, url: node.httpUrl };
}

/** Runs `count` copies of `command` at once on the load CPU; returns their JSON lines. */
async function runLoad(command: string[], count = 1): Promise<Record<string, unknown>[]> {
  const runs = Array.from({ length: count }, () => {
    const [cmd, args] = pinned(LOAD_CPU, command[0], command.slice(1));
    return new Deno.Command(cmd, { args, stdout: "piped", stderr: "inherit" }).output();
  });
  const results = [];
  for (const out of await Promise.all(runs)) {
    if (!out.success) throw new Error(`${command.join(" ")} failed`);
    results.push(JSON.parse(new TextDecoder().decode(out.stdout).trim().split("\n").at(-1)!));
  }
  return results;
}

/** What the publishers of one server reached: acks/s, and CPU per ack (µs) of both sides. */
interface Published {
  rate: number;
  serverUs: number;
  clientUs: number;
}

/**
 * `count` publisher processes at once against the server `pid`: summed acks/s, the
 * server's CPU per ack over the run, and the publishers' own (mean of theirs).
 */
async function runPublishers(command: string[], count: number, pid: number): Promise<Published> {
  const before = cpuSecondsOf(pid);
  const results = await runLoad(command, count);
  const rate = results.reduce((sum, r) => sum + (r.perSecond as number), 0);
  const clientUs = results.reduce((sum, r) => sum + (r.cpuUs as number), 0) / count;
  return { rate, serverUs: (cpuSecondsOf(pid) - before) * 1e6 / (rate * SECONDS), clientUs };
}

const denoRole = (...args: (string | number)[]) => [
  Deno.execPath(),
  "run",
  "-A",
  roles,
  ...args.map(String),
];
const otherRole = (...args: (string | number)[]) => [
  Deno.execPath(),
  "run",
  "-A",
  new URL("bench/store_roles.ts", OTHER!).pathname,
  ...args.map(String),
];

/** A reader's passes: pulses/s, and server and reader CPU per pulse, µs. */
interface Read {
  rates: number[];
  serverUs: number[];
  clientUs: number[];
}

/** The best pass of a reader (by rate), with its CPU figures. */
function best(read: Read): { rate: number; serverUs: number; clientUs: number } {
  let i = 0;
  for (let j = 1; j < read.rates.length; j++) if (read.rates[j] > read.rates[i]) i = j;
  return { rate: read.rates[i], serverUs: read.serverUs[i], clientUs: read.clientUs[i] };
}

/** Runs the Go ordered-consumer reader `PASSES` times, timing the server's CPU around each. */
async function goReads(binary: string, url: string, n: number, pid: number): Promise<Read> {
  const read: Read = { rates: [], serverUs: [], clientUs: [] };
  for (let i = 0; i < PASSES; i++) {
    const before = cpuSecondsOf(pid);
    const [out] = await runLoad([binary, url, "bench.>", String(n)]);
    read.rates.push(Math.round(out.perSecond as number));
    read.serverUs.push((cpuSecondsOf(pid) - before) * 1e6 / n);
    read.clientUs.push(out.cpuUs as number);
  }
  return read;
}

const rate = (n: number, ms: number) => Math.round(n / (ms / 1000));
const fmt = (n: number) => n.toLocaleString("en-US");
const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}x`;
const us = (x: number) => (Number.isNaN(x) ? "-" : `${x.toFixed(2)} µs`);
const line = (label: string, value: string, width = 48) =>
  console.log(`  ${label.padEnd(width)}${value.padStart(12)}`);

const osDir = await Deno.makeTempDir({ prefix: "arqon-bench-os-" });
const batchDir = await Deno.makeTempDir({ prefix: "arqon-bench-batch-" });
const natsDir = await Deno.makeTempDir({ prefix: "nats-bench-" });
const restartDir = await Deno.makeTempDir({ prefix: "arqon-restart-" });
try {
  const load = () => Deno.loadavg().map((x) => x.toFixed(1)).join(" ");
  console.log(
    `store bench: 1 KB payloads, ${SECONDS} s per run, ${PUBLISHERS} publisher processes ` +
      `with ${INFLIGHT} publishes in flight each; servers on CPU ${SERVER_CPU}, load on ` +
      `CPU ${LOAD_CPU}; load average ${load()}\n`,
  );

  // 1. durable-acked publish: ArqonBus with each sync policy, then JetStream.
  // The Go publisher of each server is the same loop (a window of `INFLIGHT` async
  // publishes): nats.go's PublishAsync for JetStream, raw TCP frames for ArqonBus.
  const arqonPublisher = await buildGo(new URL("arqon_pub/main.go", import.meta.url), natsDir);
  const arqon: Record<string, Published> = {};
  const arqonGo: Record<string, Published> = {};
  for (const [sync, dir] of [["os", osDir], ["batch", batchDir]]) {
    const node = await startArqon(
      dir,
      ["--sync", sync, "--log", "info", "--tcp-port", "0"],
      SERVER_CPU,
    );
    await fetch(`${node.url}/v1/realities/bench`, {
      method: "PUT",
      body: JSON.stringify({ retention: [{ pattern: ">" }] }),
    }).then((r) => r.body?.cancel());
    arqon[sync] = await runPublishers(
      denoRole("pub-arqon", node.wsUrl, SECONDS, INFLIGHT),
      PUBLISHERS,
      node.pid,
    );
    if (arqonPublisher) {
      const tcp = node.tcpUrl!.replace("tcp://", "");
      arqonGo[sync] = await runPublishers(
        [arqonPublisher, tcp, "bench", "bench.store.go", String(SECONDS), String(INFLIGHT)],
        PUBLISHERS,
        node.pid,
      );
    }
    await node.stop();
  }

  const nats = await startNatsServer(SERVER_CPU, ["-js", "-sd", natsDir]);
  const nc = await natsConnect({ servers: nats.url });
  const jsm = await nc.jetstreamManager();
  await jsm.streams.add({
    name: "BENCH",
    subjects: ["bench.>"],
    storage: StorageType.File,
    num_replicas: 1,
    retention: RetentionPolicy.Limits,
  });
  const js = await runPublishers(
    denoRole("pub-js", nats.url, SECONDS, INFLIGHT),
    PUBLISHERS,
    nats.pid,
  );
  // JetStream's best client: Go (built here; apt-installed when missing, as root).
  const goPublisher = await buildGo(new URL("jetstream_pub/main.go", import.meta.url), natsDir);
  const go = goPublisher
    ? await runPublishers(
      [goPublisher, `nats://${nats.url}`, "bench.store.go", String(SECONDS), String(INFLIGHT)],
      PUBLISHERS,
      nats.pid,
    )
    : undefined;
  console.log("durable-acked publish (acks/s; server / publisher CPU per ack)");
  const published: [string, Published | undefined][] = [
    ["ArqonBus --sync os (TS client)", arqon.os],
    ["ArqonBus --sync batch, fsync per commit (TS)", arqon.batch],
    ["ArqonBus --sync os (Go, raw TCP frames)", arqonGo.os],
    ["ArqonBus --sync batch (Go, raw TCP frames)", arqonGo.batch],
    ["JetStream R1 file (nats.js)", js],
    ["JetStream R1 file (Go nats.go)", go],
  ];
  for (const [label, p] of published) {
    if (!p) continue;
    line(label, fmt(Math.round(p.rate)));
    line("  server / publisher CPU per ack", `${us(p.serverUs)} / ${us(p.clientUs)}`);
  }
  line("ratio --sync os / JetStream nats.js", ratio(arqon.os.rate, js.rate));
  line("ratio --sync batch / JetStream nats.js", ratio(arqon.batch.rate, js.rate));
  if (go) {
    line("ratio --sync os / JetStream Go", ratio(arqon.os.rate, go.rate));
    line("ratio --sync batch / JetStream Go", ratio(arqon.batch.rate, go.rate));
    line("server CPU per ack, --sync os / Go's", ratio(arqon.os.serverUs, go.serverUs));
    if (arqonGo.os) {
      line("ratio Go publishers: --sync os / JetStream", ratio(arqonGo.os.rate, go.rate));
      line("ratio Go publishers: --sync batch / JetStream", ratio(arqonGo.batch.rate, go.rate));
      line("server CPU per ack, Go publishers, os / JS", ratio(arqonGo.os.serverUs, go.serverUs));
    }
  }
  console.log();

  // 2. history read of the same count from both, from the --sync os store.
  const info = await jsm.streams.info("BENCH");
  const scanned = openStore({ dataDir: osDir });
  const stored = scanned.lastSequence("bench");
  scanned.close();
  const n = Math.min(stored, info.state.messages);
  const node = await startArqon(osDir, ["--log", "info", "--tcp-port", "0"], SERVER_CPU);
  let t = performance.now();
  let lines = 0;
  const res = await fetch(`${node.url}/v1/realities/bench/history?limit=${n}`);
  const reader = res.body!.getReader();
  while (true) {
    const { value, done } = await reader.read();
    if (done) break;
    for (const b of value) if (b === 10) lines++;
  }
  const httpRate = rate(lines, performance.now() - t);
  const reads: [string, Read][] = [];
  for (const [label, url] of [["WebSocket", node.wsUrl], ["raw TCP", node.tcpUrl!]]) {
    const [read] = await runLoad(denoRole("read-arqon", url, "bench", n, PASSES, node.pid));
    reads.push([`ArqonBus ${label} history.get (TS client)`, read as unknown as Read]);
  }
  await node.stop();
  const others: [string, Read][] = [];
  if (OTHER) {
    const mod = new URL("mod.ts", OTHER).pathname;
    const other = await startNodeProcess(
      ["--data-dir", osDir, "--log", "info", "--tcp-port", "0"],
      SERVER_CPU,
      mod,
    );
    for (const [label, url] of [["WebSocket", other.wsUrl], ["raw TCP", other.tcpUrl!]]) {
      const [read] = await runLoad(otherRole("read-arqon", url, "bench", n, PASSES, other.pid));
      others.push([`--other ${label} history.get`, read as unknown as Read]);
    }
    await other.stop();
  }
  const [jsRead] = await runLoad(denoRole("read-js", nats.url, "BENCH", n, PASSES, nats.pid));
  reads.push(["JetStream ordered consumer (nats.js)", jsRead as unknown as Read]);
  const goReader = await buildGo(new URL("jetstream_read/main.go", import.meta.url), natsDir);
  if (goReader) {
    reads.push([
      "JetStream ordered consumer (Go nats.go)",
      await goReads(goReader, `nats://${nats.url}`, n, nats.pid),
    ]);
  }

  const store = openStore({ dataDir: osDir });
  // Best of three passes: the first also warms the JIT and the OS page cache.
  let rawRate = 0;
  for (let pass = 0; pass < 3; pass++) {
    t = performance.now();
    let raw = 0;
    for await (const page of store.history({ reality: "bench", limit: n }, 8192)) {
      raw += page.length;
    }
    rawRate = Math.max(rawRate, rate(raw, performance.now() - t));
  }
  t = performance.now();
  let decoded = 0;
  for await (const page of store.history({ reality: "bench", limit: n }, 8192)) {
    for (const p of page) decoded += decodePulse(p.bytes).payload!.length === PAYLOAD ? 1 : 0;
  }
  const decodedRate = rate(decoded, performance.now() - t);
  store.close();

  console.log(
    `history read of ${fmt(n)} pulses (best of ${PASSES} passes: pulses/s, server and reader ` +
      `CPU per pulse in that pass)`,
  );
  line("ArqonBus store scan, in-process (best of 3)", fmt(rawRate));
  line("ArqonBus store scan + protobufjs decode", fmt(decodedRate));
  line("ArqonBus HTTP NDJSON", fmt(httpRate));
  const bests = reads.map(([label, read]) => [label, best(read)] as const);
  for (const [label, b] of bests) {
    line(label, fmt(b.rate));
    line("  server / reader CPU per pulse", `${us(b.serverUs)} / ${us(b.clientUs)}`);
  }
  for (const [label, read] of others) {
    const b = best(read);
    line(label, fmt(b.rate));
    line("  server / reader CPU per pulse", `${us(b.serverUs)} / ${us(b.clientUs)}`);
  }
  const [ws, tcp, jsr, gor] = bests.map(([, b]) => b);
  line("ratio WebSocket / JetStream nats.js", ratio(ws.rate, jsr.rate));
  line("ratio raw TCP / JetStream nats.js", ratio(tcp.rate, jsr.rate));
  if (gor) {
    line("ratio WebSocket / JetStream Go", ratio(ws.rate, gor.rate));
    line("ratio raw TCP / JetStream Go", ratio(tcp.rate, gor.rate));
    line("server CPU per pulse, WebSocket / Go's", ratio(ws.serverUs, gor.serverUs));
  }
  console.log(`  (load average ${load()})\n`);
  await nc.close();
  await nats.stop();

  // 3. restart with FILL stored pulses
  const filling = openStore({
    dataDir: restartDir,
    sync: "os",
    defaultRealityConfig: { retention: [{ pattern: ">" }] },
  });
  const payload = new Uint8Array(PAYLOAD);
  t = performance.now();
  for (let seq = 1; seq <= FILL;) {
    const batch = [];
    for (let i = 0; i < 4096 && seq <= FILL; i++, seq++) {
      const pulse = {
        id: crypto.randomUUID(),
        sequence: seq,
        topic: "bench.restart.data",
        realityId: "bench",
        producerId: "bench",
        timestamp: { wallMs: Date.now(), logical: 0 },
        payload,
      };
      batch.push({ pulse, bytes: encodePulse(pulse) });
    }
    await filling.append(batch);
  }
  const fillRate = rate(FILL, performance.now() - t);
  filling.close();
  t = performance.now();
  const reopened = openStore({ dataDir: restartDir });
  const last = reopened.lastSequence("bench");
  const openMs = performance.now() - t;
  reopened.close();
  const restarted = await startArqon(restartDir, ["--log", "info"]);
  const readyMs = restarted.readyMs;
  await restarted.stop();
  const empty = await Deno.makeTempDir({ prefix: "arqon-empty-" });
  const fresh = await startArqon(empty, ["--log", "info"]);
  const emptyReadyMs = fresh.readyMs;
  await fresh.stop();
  await Deno.remove(empty, { recursive: true });
  console.log(
    `restart with ${fmt(FILL)} stored pulses (filled at ${fmt(fillRate)} pulses/s in-process)`,
  );
  console.log(
    `  store open + head lookup        ${openMs.toFixed(1).padStart(8)} ms (last sequence ${
      fmt(last)
    })`,
  );
  console.log(`  node spawn to ready             ${readyMs.toFixed(0).padStart(8)} ms`);
  console.log(`  node spawn to ready, empty dir  ${emptyReadyMs.toFixed(0).padStart(8)} ms`);
} finally {
  for (const d of [osDir, batchDir, natsDir, restartDir]) {
    await Deno.remove(d, { recursive: true });
  }
}
