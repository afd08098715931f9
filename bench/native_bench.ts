/**
 * `deno task bench:native`: the native sidecar's carriers, each against its peer in the
 * same run.
 *
 * 1. shm ring driven from Deno across two processes (producer here, consumer a child
 *    process) vs the pure-Rust two-thread ring over the same ring code; 64 B frames in
 *    batches of 64 and of one full 64 KB FFI call. Prints msg/s and the Deno/Rust ratio.
 * 2. UDP on loopback (sendmmsg/recvmmsg batches from Deno): msg/s and loss.
 * 3. DPDK `net_ring` loopback from Deno, where EAL starts (child process).
 * 4. Publish-to-delivery through a node (child process, `--shm`): one pulse at a time,
 *    p50/p99 over shm vs over WebSocket.
 *
 *   deno task bench:native [--messages 20000000] [--pings 20000]
 * @module
 */
import { helpFromHeader } from "../scripts/task_cli.ts";
import { parseArgs } from "node:util";
import { loadNative } from "../runtime/transport/native_lib.ts";
import { ShmEndpoint, ShmListener } from "../runtime/transport/shm.ts";
import { ShmWebSocket } from "../runtime/transport/shm_websocket.ts";
import { UdpEndpoint } from "../runtime/transport/udp.ts";
import { dpdkAvailable } from "../runtime/transport/dpdk.ts";
import { ArqonClient, decodeFrame, encodeFrame, type IFrame } from "../mod.ts";
import { NODE_V8_FLAGS } from "./support.ts";

helpFromHeader(import.meta.url); // `--help`: the usage above, exit 0

const FRAME = 64;
const RING_BYTES = 1 << 20;
const self = new URL(import.meta.url).pathname;
const root = new URL("../", import.meta.url);
const now = () => performance.timeOrigin + performance.now();

// ---------------------------------------------------------------- child roles

/** Consumer process: drains `count` frames, checks the index sequence, reports timing. */
function shmConsumer(name: string, count: number): void {
  const ep = ShmEndpoint.connect(name);
  console.log("ready");
  let got = 0;
  let sum = 0;
  let first = 0;
  while (got < count) {
    const { buffer, length } = ep.receivePacked();
    if (length <= 0) {
      if (length < 0) break;
      ep.waitSync(200, 1_000_000);
      continue;
    }
    if (first === 0) first = now();
    const v = new DataView(buffer.buffer, 0, length);
    for (let off = 0; off < length; off += 4 + v.getUint32(off, true)) {
      const idx = v.getUint32(off + 4, true);
      if (idx !== got) throw new Error(`frame ${got} arrived as ${idx}`);
      sum = (sum + idx) >>> 0;
      got++;
    }
  }
  console.log(JSON.stringify({ got, sum, first, last: now() }));
  ep.close();
}

// ---------------------------------------------------------------- 1. shm vs Rust

function expectedSum(n: number): number {
  let s = 0;
  for (let i = 0; i < n; i++) s = (s + i) >>> 0;
  return s;
}

async function shmDeno(messages: number, batch: number): Promise<number> {
  const name = `arqon-bench-${Deno.pid}-${batch}`;
  const listener = new ShmListener(name, { slots: 1, ringBytes: RING_BYTES });
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", self, "--role", "shm-consumer", "--name", name, "--count", `${messages}`],
    stdout: "piped",
  }).spawn();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let out = "";
  while (!out.includes("ready\n")) out += (await lines.read()).value ?? "";
  let ep: ShmEndpoint | null = null;
  while (!(ep = listener.accept())) await new Promise((r) => setTimeout(r, 1));
  // One template batch of `batch` frames; per frame only the index is rewritten.
  const bytes = batch * (4 + FRAME);
  const buf = new Uint8Array(bytes);
  const v = new DataView(buf.buffer);
  for (let i = 0; i < batch; i++) v.setUint32(i * (4 + FRAME), FRAME, true);
  const start = now();
  let sent = 0;
  while (sent < messages) {
    const n = Math.min(batch, messages - sent);
    for (let i = 0; i < n; i++) v.setUint32(i * (4 + FRAME) + 4, sent + i, true);
    const len = n * (4 + FRAME);
    let off = 0;
    while (off < len) {
      // The consumer drains concurrently; a full ring only costs a retry.
      off += ep.sendPacked(off === 0 ? buf : buf.subarray(off), len - off);
    }
    sent += n;
  }
  while (!out.includes("}\n")) out += (await lines.read()).value ?? "";
  await child.status;
  ep.close();
  listener.close();
  const r = JSON.parse(out.slice(out.indexOf("{")));
  if (r.got !== messages || r.sum !== expectedSum(messages)) {
    throw new Error(`shm consumer got ${r.got} frames, checksum ${r.sum}`);
  }
  return messages / ((r.last - start) / 1000);
}

function shmRust(messages: number, batch: number): number {
  const lib = loadNative();
  const sum = new BigUint64Array(1);
  const ns = Number(
    lib.arqon_bench_ring_threads(messages, FRAME, batch, RING_BYTES, new Uint8Array(sum.buffer)),
  );
  if (ns === 0) throw new Error("pure-Rust ring failed");
  const n = BigInt(messages);
  if (sum[0] !== (n * (n - 1n)) / 2n) throw new Error("pure-Rust ring checksum mismatch");
  return messages / (ns / 1e9);
}

// ---------------------------------------------------------------- 2. UDP

async function udpLoopback(messages: number): Promise<{ rate: number; lost: number }> {
  const a = new UdpEndpoint("127.0.0.1:0", FRAME);
  const b = new UdpEndpoint("127.0.0.1:0", FRAME);
  a.connect(`127.0.0.1:${b.port}`);
  const frame = new Uint8Array(FRAME);
  const fv = new DataView(frame.buffer);
  let sent = 0;
  let got = 0;
  const start = now();
  let idle = 0;
  while (got < messages && idle < 200) {
    // Stay within the socket buffers so loss measures the carrier, not our pacing.
    while (sent < messages && sent - got < 4096) {
      fv.setUint32(0, sent, true);
      if (!a.enqueue(frame)) break;
      sent++;
    }
    a.flush();
    const n = b.receive(() => {});
    got += n;
    if (n === 0 && sent === messages) {
      idle++;
      await b.wait(5);
    }
  }
  const rate = got / ((now() - start) / 1000);
  const lost = b.stats().lost + (sent - got - b.stats().lost);
  a.close();
  b.close();
  return { rate, lost };
}

// ---------------------------------------------------------------- 3. DPDK

async function dpdkRing(messages: number): Promise<string> {
  if (!dpdkAvailable()) return "skipped: libarqon_dpdk.so not built (no dpdk-dev)";
  const peer = new URL("runtime/transport/testdata/dpdk_peer.ts", root).pathname;
  const t0 = now();
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", peer, "ring", "-", `${messages}`],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  const m = text.match(/received=(\d+) .*lost=(\d+) elapsed_ms=([\d.]+)/);
  if (out.code !== 0 || !m) {
    return `skipped: EAL did not start (${new TextDecoder().decode(out.stderr).trim() || text})`;
  }
  const rate = Number(m[1]) / (Number(m[3]) / 1000);
  return `${fmt(rate)} msg/s (${m[1]} frames, lost ${m[2]}; process total ${
    ((now() - t0) / 1000).toFixed(1)
  } s incl. EAL start)`;
}

// ---------------------------------------------------------------- 4. latency via node

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
}

/** Sequential publish-to-delivery round trips through `ArqonClient` (ack none). */
async function clientRoundTrips(
  client: ArqonClient,
  topic: string,
  payload: Uint8Array,
  n: number,
): Promise<number[]> {
  const sub = client.subscribe(topic);
  await sub.ready;
  const it = sub[Symbol.asyncIterator]();
  const out: number[] = [];
  for (let i = 0; i < n + 500; i++) {
    const t0 = performance.now();
    client.publish(topic, payload, { ack: "none" });
    await it.next();
    if (i >= 500) out.push((performance.now() - t0) * 1000);
  }
  return out.sort((a, b) => a - b);
}

async function nodeLatency(
  pings: number,
): Promise<{ shm: number[]; shmClient: number[]; ws: number[] }> {
  const name = `arqon-bench-node-${Deno.pid}`;
  const node = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      NODE_V8_FLAGS,
      new URL("mod.ts", root).pathname,
      "--port",
      "0",
      "--shm",
      name,
      "--memory",
    ],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = node.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let banner = "";
  while (!banner.includes("\n")) banner += (await reader.read()).value ?? "";
  const wsUrl = banner.match(/ws:\/\/[^ )]+/)![0];
  try {
    // shm: a dedicated endpoint, spin-waiting for the delivery like a latency-bound client.
    const ep = ShmEndpoint.connect(name);
    const deliveries: number[] = [];
    const onFrame = (f: IFrame) => {
      if (f.batch) { for (const x of f.batch.frames ?? []) onFrame(x); }
      if (f.deliver) deliveries.push(1);
      if (f.subscribed) deliveries.push(0);
    };
    const pump = () => {
      ep.receive((bytes) => onFrame(decodeFrame(bytes)));
    };
    ep.enqueue(
      encodeFrame({ subscribe: { subscriptionId: 1, pattern: "bench.lat", correlationId: 1 } }),
    );
    ep.flush();
    while (deliveries.length === 0) {
      ep.waitSync(100, 1_000_000);
      pump();
    }
    const payload = new Uint8Array(FRAME);
    const publish = encodeFrame({ publish: { pulse: { topic: "bench.lat", payload } } });
    const shm: number[] = [];
    for (let i = 0; i < pings + 1000; i++) {
      deliveries.length = 0;
      const t0 = performance.now();
      ep.enqueue(publish);
      ep.flush();
      while (deliveries.length === 0) {
        ep.waitSync(1_000_000, 1_000_000);
        pump();
      }
      if (i >= 1000) shm.push((performance.now() - t0) * 1000);
    }
    ep.close();

    // Our client, over shm (ShmWebSocket standing in for WebSocket) and over WebSocket.
    const n = Math.min(pings, 5000);
    const realWebSocket = globalThis.WebSocket;
    (globalThis as { WebSocket: unknown }).WebSocket = ShmWebSocket;
    const overShm = await ArqonClient.connect(`shm://${name}`, { reconnect: false });
    (globalThis as { WebSocket: unknown }).WebSocket = realWebSocket;
    const shmClient = await clientRoundTrips(overShm, "bench.cshm", payload, n);
    await overShm.close();
    const client = await ArqonClient.connect(wsUrl, { reconnect: false });
    const ws = await clientRoundTrips(client, "bench.ws", payload, n);
    await client.close();
    return { shm: shm.sort((a, b) => a - b), shmClient, ws };
  } finally {
    node.kill("SIGTERM");
    await node.status;
    await reader.cancel();
  }
}

// ---------------------------------------------------------------- main

function fmt(rate: number): string {
  return rate >= 1e6 ? `${(rate / 1e6).toFixed(1)}M` : `${(rate / 1e3).toFixed(0)}k`;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      role: { type: "string" },
      name: { type: "string" },
      count: { type: "string" },
      messages: { type: "string", default: "20000000" },
      pings: { type: "string", default: "20000" },
    },
  });
  if (values.role === "shm-consumer") {
    shmConsumer(values.name!, Number(values.count));
    return;
  }
  const messages = Number(values.messages);
  const pings = Number(values.pings);
  console.log(`native bench: ${FRAME} B frames, ${messages} per ring run, ring ${RING_BYTES} B\n`);

  console.log("1. shm SPSC ring: Deno FFI across two processes vs pure Rust, two threads");
  for (const batch of [64, Math.floor(65536 / (4 + FRAME))]) {
    // Best of five, interleaved: two spinning sides on two shared cores get descheduled
    // now and then, and alternating keeps a busy spell from favouring one side.
    let rust = 0;
    let deno = 0;
    for (let round = 0; round < 5; round++) {
      rust = Math.max(rust, shmRust(messages, batch));
      deno = Math.max(deno, await shmDeno(messages, batch));
    }
    console.log(
      `   batch ${String(batch).padStart(3)}: Deno ${fmt(deno)} msg/s, Rust ${fmt(rust)} msg/s, ` +
        `ratio ${(deno / rust).toFixed(2)}x (target >= 20M msg/s and >= 0.5x)`,
    );
  }

  const udp = await udpLoopback(Math.min(messages, 2_000_000));
  console.log(`\n2. UDP loopback (sendmmsg/recvmmsg): ${fmt(udp.rate)} msg/s, lost ${udp.lost}`);

  console.log(
    `\n3. DPDK net_ring loopback from Deno: ${await dpdkRing(Math.min(messages, 5_000_000))}`,
  );

  const lat = await nodeLatency(pings);
  const p = (xs: number[], q: number) => percentile(xs, q).toFixed(1);
  console.log(
    `\n4. publish-to-delivery through the node, one pulse at a time (${FRAME} B payload):\n` +
      `   shm (spinning endpoint): p50 ${p(lat.shm, 0.5)} µs, p99 ${
        p(lat.shm, 0.99)
      } µs (${lat.shm.length} pulses; ` +
      `target p50 <= 20 µs)\n` +
      `   ArqonClient over shm: p50 ${p(lat.shmClient, 0.5)} µs, p99 ${
        p(lat.shmClient, 0.99)
      } µs\n` +
      `   ArqonClient over ws:  p50 ${p(lat.ws, 0.5)} µs, p99 ${p(lat.ws, 0.99)} µs ` +
      `(${lat.ws.length} pulses each)\n` +
      `   ratio ws/shm p50: raw ${
        (percentile(lat.ws, 0.5) / percentile(lat.shm, 0.5)).toFixed(1)
      }x, ` +
      `same client ${(percentile(lat.ws, 0.5) / percentile(lat.shmClient, 0.5)).toFixed(1)}x`,
  );
}

if (import.meta.main) await main();
