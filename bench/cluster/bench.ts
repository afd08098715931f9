/**
 * `deno task bench:cluster`: a cluster on this machine, in one run: 3 nats-server
 * processes (Debian's) as one JetStream cluster on loopback ports and 3 ArqonBus nodes
 * (`--cluster`, streams R3, file storage), 1 KB payloads.
 *
 * 1. Cross-node delivery: one client publishes on node A (no ack, but one received-ack in 64
 *    to stay within what the cluster stores); clients on nodes B and C each receive every
 *    pulse. Pulses/s delivered on each, and p99 publish-to-delivery latency (one process, one
 *    clock). Then its peer (raw_xnode.ts): the same traffic straight on a JetStream stream
 *    (file, R3) with the same client library, on the same servers. For both, the CPU seconds
 *    of every process (each nats-server, each node, the clients) and per pulse: on a shared
 *    2-core machine the rate is the CPU share these processes get divided by that cost.
 *    Both again in a fire-and-forget reality whose stream is R1 (the nodes run with
 *    `--cluster-fire-and-forget-replicas 1`; the R3 realities' streams are made beforehand).
 * 2. Durable acked publishes (R3): our TS client with `ack: "durable"` through node A,
 *    against the same publishes straight to JetStream R3 with the same client library
 *    (nats.js v3 `js.publish`), and Go's nats.go (bench/jetstream_pub, built here when Go
 *    is present), each keeping `--inflight` publishes outstanding. Ratios printed.
 *
 * The figures depend on the machine's load: the load average is printed with them.
 *
 * `--window`: cross-node pulses in flight (in groups of 64, the last of each acked once
 * stored); `--inflight`: durable publishes outstanding.
 *
 *   deno task bench:cluster [--seconds 5] [--window 2048] [--inflight 256]
 * @module
 */
import { helpFromHeader } from "../../scripts/task_cli.ts";
import { parseArgs } from "node:util";
import { ArqonClient } from "../../mod.ts";
import { connect } from "@nats-io/transport-node";
import { jetstream, jetstreamManager, StorageType } from "@nats-io/jetstream";
import { realityStream } from "../../runtime/cluster/mod.ts";
import { NatsCluster } from "../../tests/support/nats_cluster.ts";
import {
  buildGo,
  cpuSecondsOf,
  median,
  spawnBinary,
  spawnScript,
  startNodeProcess,
} from "../support.ts";

helpFromHeader(import.meta.url); // `--help`: the usage above, exit 0

const { values } = parseArgs({
  args: Deno.args,
  options: {
    seconds: { type: "string", default: "5" },
    inflight: { type: "string", default: "256" },
    window: { type: "string", default: "2048" },
  },
});
const SECONDS = Number(values.seconds);
const INFLIGHT = Number(values.inflight);
const WINDOW = Number(values.window);
const PAYLOAD = 1024;

/** Keeps `inflight` publishes outstanding for `seconds`; returns acks/s. */
async function windowed(publishOne: () => Promise<unknown>, seconds: number, inflight: number) {
  let acked = 0;
  let outstanding = 0;
  let failed: unknown = null;
  let wake: (() => void) | null = null;
  const start = performance.now();
  const end = start + seconds * 1000;
  while (performance.now() < end && !failed) {
    while (outstanding < inflight) {
      outstanding++;
      publishOne().then(() => {
        acked++;
        outstanding--;
        wake?.();
      }, (err) => {
        failed = err;
        outstanding--;
        wake?.();
      });
    }
    await new Promise<void>((r) => (wake = r));
  }
  while (outstanding > 0) await new Promise<void>((r) => (wake = r));
  if (failed) throw failed;
  return acked / ((performance.now() - start) / 1000);
}

/** CPU seconds of each process in `pids` since `before()` was called (NaN once gone). */
function cpuMeter(pids: Record<string, number>) {
  const at = Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, cpuSecondsOf(pid)]));
  return () =>
    Object.fromEntries(
      Object.entries(pids).map(([k, pid]) => [k, cpuSecondsOf(pid) - at[k]]),
    ) as Record<string, number>;
}

/** `name 1.23` pairs of a CPU reading, and the CPU of all of them per 1,000 pulses. */
function cpuLine(cpu: Record<string, number>, pulses: number, wallS: number): string {
  const total = Object.values(cpu).reduce((a, b) => a + b, 0);
  return `CPU s over ${wallS.toFixed(1)} s: ${
    Object.entries(cpu).map(([k, v]) => `${k} ${v.toFixed(2)}`).join(", ")
  }; all ${total.toFixed(2)} (${(total / wallS).toFixed(2)} cores), ${
    (total / pulses * 1e6).toFixed(0)
  } µs per pulse published`;
}

function loadAverage(): string {
  try {
    return Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3).join(" ");
  } catch {
    return "n/a";
  }
}

const nats = await NatsCluster.start(3);
const nodes = [] as Awaited<ReturnType<typeof startNodeProcess>>[];
const clients: ArqonClient[] = [];
try {
  for (let i = 0; i < 3; i++) {
    nodes.push(
      await startNodeProcess([
        "--memory",
        "--cluster",
        nats.urls,
        "--cluster-replicas",
        "3",
        "--cluster-fire-and-forget-replicas",
        "1",
      ]),
    );
  }
  console.log(`bench:cluster: 3 nats-server (JetStream, R3, file) + 3 ArqonBus nodes, 1 KB pulses`);
  console.log(`load average before: ${loadAverage()}`);

  // ---------------------------------------------------------------- 1. cross-node delivery
  for (const n of nodes) {
    clients.push(await ArqonClient.connect(n.wsUrl, { name: "bench", noDelay: true }));
  }
  const [pub, subB, subC] = clients;
  const natsPids = Object.fromEntries(nats.servers.map((s) => [`nats-${s.name}`, s.pid!]));

  /** Cross-node delivery in `reality`: published on A, received on B and C. */
  const crossNode = async (reality: string, label: string): Promise<void> => {
    const latencies: number[] = [];
    const counts = [0, 0];
    const receivers = [subB, subC].map((c, i) =>
      c.subscribe("x.>", {
        reality,
        maxQueueMessages: 1 << 20,
        onPulse: (p) => {
          if (p.topic !== "x.data") return;
          counts[i]++;
          if (i === 0 && (counts[0] & 15) === 0) {
            const sent = new DataView(p.payload!.buffer, p.payload!.byteOffset).getFloat64(0);
            latencies.push(performance.now() - sent);
          }
        },
      })
    );
    for (const r of receivers) await r.ready;
    // The stream exists before timing (its creation may time out on a busy machine: again).
    for (let attempt = 0;; attempt++) {
      try {
        await pub.publish("x.warm", "w", { reality });
        break;
      } catch (err) {
        if (attempt >= 5) throw err;
      }
    }
    await new Promise((r) => setTimeout(r, 500));
    counts[0] = counts[1] = 0;
    latencies.length = 0;
    const payload = new Uint8Array(PAYLOAD);
    const view = new DataView(payload.buffer);
    let published = 0;
    const meter = cpuMeter({
      ...natsPids,
      "node-A": nodes[0].pid,
      "node-B": nodes[1].pid,
      "node-C": nodes[2].pid,
      "clients": Deno.pid,
    });
    const t0 = performance.now();
    // Fire-and-forget pulses in groups of 64, the last of each with a received-ack: it comes
    // once the stream stored it (after the 63 before it), which keeps the publisher within
    // what the cluster takes.
    const GROUP = 64;
    const pubRate = GROUP * await windowed(
      () => {
        for (let i = 1; i < GROUP; i++) {
          view.setFloat64(0, performance.now());
          published++;
          pub.publish("x.data", payload.slice(), { reality, ack: "none" });
        }
        view.setFloat64(0, performance.now());
        published++;
        return pub.publish("x.data", payload.slice(), { reality, ack: "received" });
      },
      SECONDS,
      Math.max(1, Math.floor(WINDOW / GROUP)),
    );
    const deadline = performance.now() + 20_000;
    while ((counts[0] < published || counts[1] < published) && performance.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    const elapsed = (performance.now() - t0) / 1000;
    const cpu = meter();
    for (const r of receivers) r.close();
    latencies.sort((a, b) => a - b);
    const p99 = latencies[Math.floor(latencies.length * 0.99)] ?? NaN;
    const p50 = latencies[Math.floor(latencies.length * 0.5)] ?? NaN;
    console.log(
      `cross-node (${label}): published on A ${Math.round(pubRate)}/s; delivered on B ${
        Math.round(counts[0] / elapsed)
      }/s, on C ${Math.round(counts[1] / elapsed)}/s (${counts[0]}/${published} and ${
        counts[1]
      }/${published}); latency p50 ${p50.toFixed(1)} ms, p99 ${
        p99.toFixed(1)
      } ms; target 100,000/s`,
    );
    console.log(`  ${cpuLine(cpu, published, elapsed)}`);
  };

  /**
   * The peer: the same traffic straight on JetStream with the same client library (a
   * stream like a reality's: file, `replicas`), in its own process on the same servers.
   */
  const rawCrossNode = async (stream: string, replicas: number): Promise<void> => {
    const rawMeter = cpuMeter(natsPids);
    const t1 = performance.now();
    const child = spawnScript(new URL("raw_xnode.ts", import.meta.url).pathname, [
      nats.urls,
      stream,
      "file",
      String(replicas),
      String(SECONDS),
      String(WINDOW),
    ]);
    child.stdin.close();
    const childMeter = cpuMeter({ "raw-clients": child.pid });
    let childCpu = 0;
    const poll = setInterval(() => (childCpu = childMeter()["raw-clients"] || childCpu), 100);
    const out = new TextDecoder().decode((await child.output()).stdout).trim();
    clearInterval(poll);
    const rawWall = (performance.now() - t1) / 1000;
    try {
      const r = JSON.parse(out.split("\n").at(-1)!);
      console.log(
        `raw JetStream cross-node (nats.js, stream file R${replicas}, same servers): ` +
          `published ${r.published}; delivered on server 2 ${r.perSecond[0]}/s, on server 3 ${
            r.perSecond[1]
          }/s; latency p50 ${r.p50?.toFixed(1)} ms, p99 ${r.p99?.toFixed(1)} ms`,
      );
      console.log(
        `  ${
          cpuLine({ ...rawMeter(), "raw-clients": childCpu }, r.published, rawWall)
        } (includes start-up and stream creation)`,
      );
    } catch {
      console.log(`(raw JetStream cross-node run failed: ${out})`);
    }
  };

  // The default: realities' streams R3, as without --cluster-fire-and-forget-replicas (made
  // here as the fabric makes them, since these nodes run with that flag).
  {
    const nc = await connect({ servers: nats.servers[0].url });
    const jsm = await jetstreamManager(nc);
    for (const reality of ["xnode", "durable"]) {
      await jsm.streams.add({
        name: realityStream(reality),
        subjects: [`ar.${reality}.>`],
        storage: StorageType.File,
        num_replicas: 3,
        duplicate_window: 120_000_000_000,
      });
    }
    await nc.close();
  }
  await crossNode("xnode", "reality on an R3 stream, the default");
  await rawCrossNode("rawx3", 3);
  // A fire-and-forget reality with --cluster-fire-and-forget-replicas 1: its stream is R1.
  await crossNode("xnode1", "fire-and-forget reality, R1 stream");
  await rawCrossNode("rawx1", 1);

  // ---------------------------------------------------------------- 2. durable acked R3
  const rounds = 2;
  const ours: number[] = [];
  const raw: number[] = [];
  // The raw peer as a user of nats.js on Deno connects: `@nats-io/transport-node` (the node's
  // own connection runs on runtime/cluster/deno_transport.ts).
  const rawNc = await connect({ servers: nats.servers[0].url });
  const js = { js: jetstream(rawNc), jsm: await jetstreamManager(rawNc) };
  await js.jsm.streams.add({ name: "raw", subjects: ["raw.>"], num_replicas: 3 });
  const rawPayload = new Uint8Array(PAYLOAD);
  for (let r = 0; r < rounds; r++) {
    // The first durable publish creates the reality's stream; retried like the warm-up.
    if (r === 0) {
      for (let attempt = 0;; attempt++) {
        try {
          await pub.publish("d.x", "w", { reality: "durable", ack: "durable" });
          break;
        } catch (err) {
          if (attempt >= 5) throw err;
        }
      }
    }
    ours.push(
      await windowed(
        () => pub.publish("d.x", rawPayload, { reality: "durable", ack: "durable" }),
        SECONDS,
        INFLIGHT,
      ),
    );
    raw.push(await windowed(() => js.js.publish("raw.x", rawPayload), SECONDS, INFLIGHT));
  }
  await rawNc.close();
  const oursRate = median(ours);
  const rawRate = median(raw);
  let goRate = NaN;
  const dir = await Deno.makeTempDir({ prefix: "arqon_bench_go_" });
  const binary = await buildGo(new URL("../jetstream_pub/main.go", import.meta.url), dir);
  if (binary) {
    const go = spawnBinary(binary, [
      nats.servers[0].url,
      "raw.go",
      String(SECONDS),
      String(INFLIGHT),
    ]);
    go.stdin.close();
    const out = await go.output();
    try {
      goRate = JSON.parse(new TextDecoder().decode(out.stdout).trim()).perSecond;
    } catch {
      console.log("(Go client run failed: see its error above)");
    }
  }
  await Deno.remove(dir, { recursive: true }).catch(() => {});
  console.log(
    `durable R3 acks/s (median of ${rounds}, ${INFLIGHT} in flight): ArqonBus ${
      Math.round(oursRate)
    }/s; JetStream R3 with nats.js ${Math.round(rawRate)}/s (ratio ${
      (oursRate / rawRate).toFixed(2)
    }x, target 0.8x)` +
      (Number.isNaN(goRate)
        ? ""
        : `; with Go nats.go ${Math.round(goRate)}/s (ratio ${(oursRate / goRate).toFixed(2)}x)`),
  );
  console.log(`load average after: ${loadAverage()}`);
} finally {
  for (const c of clients) await c.close().catch(() => {});
  for (const n of nodes) await n.stop();
  await nats.close();
}
