/**
 * Slow consumers: WebSocket and SSE subscribers on raw TCP that never read, under a 1 KB
 * flood. The node's RSS stays under its ceiling (each queue is bounded by its limits) and
 * a calm client keeps being served: its ping round trip is sampled all along.
 * @module
 */
import { F, pb } from "../../support/pb.ts";
import { RawSocket } from "../../support/raw_ws.ts";
import {
  flood,
  publishFrame,
  type RawTcpWs,
  RawTcpWs as Ws,
  silentSubscriber,
  sleep,
  startNodeChild,
  stillServed,
} from "../support.ts";
import {
  finishRun,
  mbOf,
  newResult,
  quietClose,
  RssSampler,
  type ScenarioResult,
} from "./common.ts";

/** Options of the slow-consumer scenario. */
export interface SlowOptions {
  /** How long the flood lasts, seconds. */
  readonly seconds: number;
  /** Silent WebSocket subscribers. @default 4 */
  readonly websockets?: number;
  /** Silent SSE subscribers. @default 2 */
  readonly sse?: number;
  /** RSS ceiling, MB. @default 400 */
  readonly ceilingMb?: number;
  /** The slowest calm ping allowed, ms. @default 5000 */
  readonly maxPingMs?: number;
}

/** Per-subscription bounds of the node under test: 8,192 deliveries / 8 MiB. */
export const SLOW_NODE_FLAGS = ["--queue-messages", "8192", "--queue-bytes", String(8 << 20)];

const enc = new TextEncoder();

/** Runs the scenario on a fresh node. */
export async function slowConsumers(options: SlowOptions): Promise<ScenarioResult> {
  const result = newResult("slow-consumers", options.ceilingMb ?? 400);
  const started = Date.now();
  const node = await startNodeChild(SLOW_NODE_FLAGS);
  const rss = new RssSampler(() => node.pid);
  const silent: RawTcpWs[] = [];
  const sse: Deno.Conn[] = [];
  const pubs: RawTcpWs[] = [];
  const maxPing = options.maxPingMs ?? 5000;
  try {
    for (let i = 0; i < (options.websockets ?? 4); i++) {
      silent.push(await silentSubscriber(node.port, "flood.>"));
    }
    for (let i = 0; i < (options.sse ?? 2); i++) {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: node.port });
      await conn.write(enc.encode(
        "GET /v1/realities/default/subscribe?pattern=flood.%3E HTTP/1.1\r\nHost: x\r\n" +
          "Accept: text/event-stream\r\n\r\n",
      ));
      sse.push(conn); // never read
    }
    await sleep(300);
    const calm = await RawSocket.open(node.wsUrl, "arqon.v1.proto");
    // A client that never says hello is closed after --hello-timeout: the calm one does.
    calm.send(pb([[F.hello, [[1, "calm"], [2, 1]]]]));
    await calm.until(() => calm.of(F.welcome).length > 0, "welcome", maxPing);
    calm.received.length = 0;
    const rtts: number[] = [];
    let pinging = true;
    const pinger = (async () => {
      let nonce = 1;
      while (pinging) {
        const t0 = performance.now();
        const n = nonce++;
        calm.send(pb([[F.ping, [[1, n]]]]));
        try {
          await calm.until(() => calm.of(F.pong).length > 0, "pong", maxPing + 1000);
          rtts.push(performance.now() - t0);
        } catch {
          result.violations.push(`calm ping ${n} unanswered`);
          return;
        }
        calm.received.length = 0;
        await sleep(250);
      }
    })();
    const frame = publishFrame("flood.x", new Uint8Array(1024));
    let sent = 0;
    await Promise.all(Array.from({ length: 2 }, async () => {
      const pub = await Ws.open(node.port);
      pubs.push(pub);
      sent += await flood(pub, frame, options.seconds * 1000, Infinity);
    }));
    pinging = false;
    await pinger;
    await calm.close();
    await stillServed(node.wsUrl).catch((err) => result.violations.push(String(err)));
    const dropped = await node.metric("arqon_deliveries_dropped_total");
    rtts.sort((a, b) => a - b);
    const p99 = rtts[Math.floor(rtts.length * 0.99)] ?? NaN;
    const worst = rtts.at(-1) ?? NaN;
    if (!(worst <= maxPing)) result.violations.push(`calm ping took ${worst.toFixed(0)} ms`);
    result.notes.push(
      `${mbOf(sent)} MB flooded, ${dropped} deliveries dropped`,
      `calm ping p99 ${p99.toFixed(0)} ms, max ${worst.toFixed(0)} ms (${rtts.length})`,
    );
  } finally {
    for (const c of [...pubs, ...silent]) quietClose(c);
    for (const c of sse) quietClose(c);
    await finishRun(result, rss, node, started);
  }
  return result;
}
