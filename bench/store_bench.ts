/**
 * `deno task bench:store`: the durable log against NATS JetStream (R1, file storage) on
 * this machine, in the same run, with 1 KB payloads.
 *
 * 1. Durable-acked publish throughput: an ArqonBus node (`--sync batch`, every topic
 *    retained) and a nats-server with a file-backed R1 stream, each driven by a publisher
 *    process keeping `--inflight` publishes outstanding (ArqonBus TS client with
 *    `ack: "durable"`; nats.js `js.publish`; Go's nats.go, JetStream's best client:
 *    bench/jetstream_pub, built here, Go apt-installed when missing and run as root).
 * 2. History read: every stored pulse, from the store itself (raw and decoded), over the
 *    node's NDJSON history endpoint, `history.get` over WebSocket and raw TCP, and from
 *    JetStream with an ordered consumer (nats.js, and Go's nats.go: bench/jetstream_read).
 * 3. Restart: a store holding `--fill` pulses (default 1M): open time and node
 *    spawn-to-ready time.
 *
 *   deno task bench:store [--seconds 5] [--inflight 1024] [--fill 1000000]
 * @module
 */
import { helpFromHeader } from "../scripts/task_cli.ts";
import { parseArgs } from "node:util";
import { connect as natsConnect, RetentionPolicy, StorageType } from "nats";
import { ArqonClient } from "../mod.ts";
import { decodePulse, encodePulse } from "../runtime/protocol/mod.ts";
import { openStore } from "../runtime/store/mod.ts";
import { buildGo, startNats as startNatsServer, startNodeProcess } from "./support.ts";

helpFromHeader(import.meta.url); // `--help`: the usage above, exit 0

const PAYLOAD = 1024;
const self = new URL(import.meta.url).pathname;

// ------------------------------------------------------------------ publisher processes

/**
 * Keeps `inflight` acknowledged publishes outstanding for `seconds`; returns acks/s. Both
 * peers' publishers run this same loop, only `publishOne` differs.
 */
async function windowedAckRate(
  publishOne: () => Promise<unknown>,
  seconds: number,
  inflight: number,
): Promise<number> {
  let acked = 0;
  let outstanding = 0;
  let wake: (() => void) | null = null;
  const start = performance.now();
  const end = start + seconds * 1000;
  const refill = () => {
    while (outstanding < inflight) {
      outstanding++;
      publishOne().then(
        () => {
          acked++;
          outstanding--;
          wake?.();
        },
        (err) => {
          console.error(err);
          Deno.exit(1);
        },
      );
    }
  };
  while (performance.now() < end) {
    refill();
    await new Promise<void>((r) => (wake = r));
    wake = null;
  }
  while (outstanding > 0) {
    await new Promise<void>((r) => (wake = r));
    wake = null;
  }
  return acked / ((performance.now() - start) / 1000);
}

async function publisherArqon(url: string, seconds: number, inflight: number): Promise<number> {
  const client = await ArqonClient.connect(url, { name: "bench" });
  const payload = new Uint8Array(PAYLOAD);
  const rate = await windowedAckRate(
    () => client.publish("bench.store.data", payload, { reality: "bench", ack: "durable" }),
    seconds,
    inflight,
  );
  await client.close();
  return rate;
}

async function publisherJetStream(url: string, seconds: number, inflight: number): Promise<number> {
  const nc = await natsConnect({ servers: url });
  const js = nc.jetstream();
  const payload = new Uint8Array(PAYLOAD);
  const rate = await windowedAckRate(
    () => js.publish("bench.store.data", payload),
    seconds,
    inflight,
  );
  await nc.drain();
  return rate;
}

if (Deno.args[0] === "pub-arqon" || Deno.args[0] === "pub-js") {
  const [role, url, seconds, inflight] = Deno.args;
  const publish = role === "pub-arqon" ? publisherArqon : publisherJetStream;
  const perSecond = await publish(url, Number(seconds), Number(inflight));
  console.log(JSON.stringify({ perSecond }));
  Deno.exit(0);
}

// ------------------------------------------------------------------ orchestration

const { values } = parseArgs({
  args: Deno.args,
  options: {
    seconds: { type: "string", default: "5" },
    inflight: { type: "string", default: "1024" },
    publishers: { type: "string", default: "2" },
    fill: { type: "string", default: "1000000" },
  },
});
const SECONDS = Number(values.seconds);
const INFLIGHT = Number(values.inflight);
const PUBLISHERS = Number(values.publishers);
const FILL = Number(values.fill);

/** The node on `dataDir`, from bench/support.ts. */
async function startArqon(dataDir: string, args: string[] = []) {
  const node = await startNodeProcess(["--data-dir", dataDir, ...args]);
  return { ...node, url: node.httpUrl };
}

/** nats-server with JetStream storing under `storeDir`, from bench/support.ts. */
function startNats(storeDir: string) {
  return startNatsServer(null, ["-js", "-sd", storeDir]);
}

/** Runs `count` publisher processes at once; returns their summed acks/s. */
async function runPublishers(command: string[], count: number): Promise<number> {
  const runs = Array.from({ length: count }, () =>
    new Deno.Command(command[0], {
      args: command.slice(1),
      stdout: "piped",
      stderr: "inherit",
    }).output());
  let total = 0;
  for (const out of await Promise.all(runs)) {
    if (!out.success) throw new Error(`${command.join(" ")} failed`);
    total += JSON.parse(new TextDecoder().decode(out.stdout)).perSecond;
  }
  return total;
}

const denoPublisher = (role: string, url: string) => [
  Deno.execPath(),
  "run",
  "-A",
  self,
  role,
  url,
  String(SECONDS),
  String(INFLIGHT),
];

const rate = (n: number, ms: number) => Math.round(n / (ms / 1000));
const fmt = (n: number) => n.toLocaleString("en-US");
const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}x`;

const arqonDir = await Deno.makeTempDir({ prefix: "arqon-bench-" });
const natsDir = await Deno.makeTempDir({ prefix: "nats-bench-" });
const restartDir = await Deno.makeTempDir({ prefix: "arqon-restart-" });
try {
  console.log(
    `store bench: 1 KB payloads, ${SECONDS} s per run, ${PUBLISHERS} publisher processes ` +
      `with ${INFLIGHT} publishes in flight each\n`,
  );

  // 1. durable-acked publish
  let node = await startArqon(arqonDir, ["--sync", "batch", "--log", "info", "--tcp-port", "0"]);
  await fetch(`${node.url}/v1/realities/bench`, {
    method: "PUT",
    body: JSON.stringify({ retention: [{ pattern: ">" }] }),
  }).then((r) => r.body?.cancel());
  const arqonRate = await runPublishers(denoPublisher("pub-arqon", node.wsUrl), PUBLISHERS);

  const nats = await startNats(natsDir);
  const nc = await natsConnect({ servers: nats.url });
  const jsm = await nc.jetstreamManager();
  await jsm.streams.add({
    name: "BENCH",
    subjects: ["bench.>"],
    storage: StorageType.File,
    num_replicas: 1,
    retention: RetentionPolicy.Limits,
  });
  const jsRate = await runPublishers(denoPublisher("pub-js", nats.url), PUBLISHERS);
  // JetStream's best client: Go (built here; apt-installed when missing, as root).
  const goPublisher = await buildGo(new URL("jetstream_pub/main.go", import.meta.url), natsDir);
  const goRate = goPublisher
    ? await runPublishers(
      [goPublisher, `nats://${nats.url}`, "bench.store.go", String(SECONDS), String(INFLIGHT)],
      PUBLISHERS,
    )
    : 0;
  console.log("durable-acked publish (acks/s)");
  console.log(`  ArqonBus (--sync batch, TS client)  ${fmt(Math.round(arqonRate)).padStart(10)}`);
  console.log(`  JetStream R1 file (nats.js)         ${fmt(Math.round(jsRate)).padStart(10)}`);
  if (goRate) {
    console.log(`  JetStream R1 file (Go nats.go)      ${fmt(Math.round(goRate)).padStart(10)}`);
  }
  console.log(`  ratio ArqonBus / JetStream nats.js  ${ratio(arqonRate, jsRate).padStart(10)}`);
  if (goRate) {
    console.log(`  ratio ArqonBus / JetStream Go       ${ratio(arqonRate, goRate).padStart(10)}`);
  }
  console.log();

  // 2. history read
  let t = performance.now();
  let lines = 0;
  const res = await fetch(`${node.url}/v1/realities/bench/history`);
  const reader = res.body!.getReader();
  while (true) {
    const { value, done } = await reader.read();
    if (done) break;
    for (const b of value) if (b === 10) lines++;
  }
  const httpRate = rate(lines, performance.now() - t);
  const reader2 = await ArqonClient.connect(node.wsUrl, { name: "bench-history" });
  t = performance.now();
  const viaWs = (await reader2.history({ reality: "bench" })).length;
  const wsRate = rate(viaWs, performance.now() - t);
  await reader2.close();
  const reader3 = await ArqonClient.connect(node.tcpUrl!, { name: "bench-history-tcp" });
  t = performance.now();
  const viaTcp = (await reader3.history({ reality: "bench" })).length;
  const tcpRate = rate(viaTcp, performance.now() - t);
  await reader3.close();
  await node.stop();

  const store = openStore({ dataDir: arqonDir });
  // Best of three passes: the first also warms the JIT and the OS page cache.
  let raw = 0;
  let rawRate = 0;
  for (let pass = 0; pass < 3; pass++) {
    t = performance.now();
    raw = 0;
    for await (const page of store.history({ reality: "bench" }, 8192)) raw += page.length;
    rawRate = Math.max(rawRate, rate(raw, performance.now() - t));
  }
  t = performance.now();
  let decoded = 0;
  for await (const page of store.history({ reality: "bench" }, 8192)) {
    for (const p of page) decoded += decodePulse(p.bytes).payload!.length === PAYLOAD ? 1 : 0;
  }
  const decodedRate = rate(decoded, performance.now() - t);
  store.close();

  t = performance.now();
  const info = await jsm.streams.info("BENCH");
  const total = info.state.messages;
  // An ordered consumer delivers the whole stream from the first message.
  const consumer = await nc.jetstream().consumers.get("BENCH");
  let jsRead = 0;
  const messages = await consumer.consume({ max_messages: 8192 });
  for await (const _ of messages) {
    if (++jsRead >= total) break;
  }
  const jsReadRate = rate(jsRead, performance.now() - t);
  const goReader = await buildGo(new URL("jetstream_read/main.go", import.meta.url), natsDir);
  let goReadRate = 0;
  if (goReader) {
    const out = await new Deno.Command(goReader, {
      args: [`nats://${nats.url}`, "bench.>", String(total)],
      stdout: "piped",
      stderr: "inherit",
    }).output();
    if (out.success) {
      goReadRate = Math.round(JSON.parse(new TextDecoder().decode(out.stdout)).perSecond);
    }
  }
  console.log(`history read (pulses/s; ArqonBus ${fmt(raw)} stored, JetStream ${fmt(total)})`);
  console.log(`  ArqonBus store scan (best of 3)    ${fmt(rawRate).padStart(10)}`);
  console.log(`  ArqonBus store scan + decode       ${fmt(decodedRate).padStart(10)}`);
  console.log(`  ArqonBus WebSocket history.get     ${fmt(wsRate).padStart(10)}`);
  console.log(`  ArqonBus raw TCP history.get       ${fmt(tcpRate).padStart(10)}`);
  console.log(`  ArqonBus HTTP NDJSON               ${fmt(httpRate).padStart(10)}`);
  console.log(`  JetStream ordered consumer (nats.js)${fmt(jsReadRate).padStart(9)}`);
  if (goReadRate) {
    console.log(`  JetStream ordered consumer (Go)    ${fmt(goReadRate).padStart(10)}`);
  }
  console.log(`  ratio store scan / JetStream       ${ratio(rawRate, jsReadRate).padStart(10)}`);
  console.log(`  ratio WebSocket / JetStream        ${ratio(wsRate, jsReadRate).padStart(10)}`);
  console.log(`  ratio raw TCP / JetStream          ${ratio(tcpRate, jsReadRate).padStart(10)}`);
  if (goReadRate) {
    console.log(`  ratio WebSocket / JetStream Go     ${ratio(wsRate, goReadRate).padStart(10)}`);
    console.log(`  ratio raw TCP / JetStream Go       ${ratio(tcpRate, goReadRate).padStart(10)}`);
  }
  console.log();
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
  node = await startArqon(restartDir, ["--log", "info"]);
  const readyMs = node.readyMs;
  await node.stop();
  const empty = await Deno.makeTempDir({ prefix: "arqon-empty-" });
  node = await startArqon(empty, ["--log", "info"]);
  const emptyReadyMs = node.readyMs;
  await node.stop();
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
  for (const d of [arqonDir, natsDir, restartDir]) await Deno.remove(d, { recursive: true });
}
