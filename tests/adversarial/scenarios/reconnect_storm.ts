/**
 * Reconnect storm: connections opened and dropped at a high rate, abruptly: TCP connect
 * and close, a half-sent request head, an upgrade that never says hello, a hello then
 * silence, a subscribe then a vanished peer, and half-open upgrades held to the end. After
 * the storm the node's file descriptors and RSS must come back near their baseline, and
 * its connection and subscription gauges to it exactly: no connection leaks a socket, a
 * session or a subscription. The baseline is taken after a warm-up storm as long as the
 * measured one (up to 10 s): the heap and the allocator keep the working size the first
 * thousands of connections grew them to, which is not a leak; a leak grows again.
 * @module
 */
import { F, pb } from "../../support/pb.ts";
import { clientFrame, RawTcpWs, sleep, startNodeChild, stillServed } from "../support.ts";
import {
  count,
  fdCount,
  finishRun,
  mbOf,
  newResult,
  prng,
  quietClose,
  readRss,
  RssSampler,
  type ScenarioResult,
} from "./common.ts";

/** Options of the reconnect storm. */
export interface StormOptions {
  /** How long the storm blows, seconds. */
  readonly seconds: number;
  /** Connections in flight at once. @default 32 */
  readonly concurrency?: number;
  /** Half-open upgrades held until the storm ends. @default 200 */
  readonly held?: number;
  /** RSS ceiling during the storm, MB. @default 400 */
  readonly ceilingMb?: number;
  /** How far above the baseline the RSS may settle, MB. @default 64 */
  readonly settleMb?: number;
  /** How many fds above the baseline may remain. @default 8 */
  readonly settleFds?: number;
  /** PRNG seed for the mix of abrupt behaviours. @default 0x5707 */
  readonly seed?: number;
}

const enc = new TextEncoder();
const KINDS = ["tcp", "head", "no-hello", "hello-vanish", "subscribe-vanish", "half-open"] as const;

/** Runs the storm on a fresh node; fails if fds or RSS do not come back near baseline. */
export async function reconnectStorm(options: StormOptions): Promise<ScenarioResult> {
  const result = newResult("reconnect-storm", options.ceilingMb ?? 400);
  const started = Date.now();
  const node = await startNodeChild();
  const rss = new RssSampler(() => node.pid);
  const random = prng(options.seed ?? 0x5707);
  const held: Deno.Conn[] = [];
  const maxHeld = options.held ?? 200;
  const kinds: Record<string, number> = {};
  try {
    // Warm the node up with a short storm first: the first thousands of connections grow
    // the heap and the allocator's arenas to a working size that is kept, not leaked. The
    // baseline is taken after it, so what is measured is what each connection leaves.
    await stillServed(node.wsUrl);
    let failures = 0;
    const blow = async (ms: number, maxHeld: number) => {
      const deadline = Date.now() + ms;
      const worker = async () => {
        while (Date.now() < deadline && node.alive()) {
          let kind: typeof KINDS[number] = KINDS[Math.floor(random() * KINDS.length)];
          if (kind === "half-open" && held.length >= maxHeld) kind = "no-hello";
          try {
            await once(node.port, kind, held);
            count(kinds, kind);
          } catch {
            failures++; // refused or reset under load: counted, not a leak
          }
        }
      };
      await Promise.all(Array.from({ length: options.concurrency ?? 32 }, worker));
    };
    // As long as the storm itself (up to 10 s): the same peak of simultaneous connections.
    await blow(Math.min(10, options.seconds) * 1000, maxHeld);
    for (const c of held.splice(0)) quietClose(c);
    await sleep(1000);
    const gauges = async () => [
      await node.metric("arqon_connections"),
      await node.metric("arqon_subscriptions"),
    ];
    const baseGauges = await gauges();
    const baseFds = fdCount(node.pid);
    const baseRss = readRss(node.pid);
    await blow(options.seconds * 1000, maxHeld);
    const peakFds = fdCount(node.pid);
    for (const c of held) quietClose(c);
    // Sockets closed by the peer are noticed by the node's next read; give it time.
    let fds = fdCount(node.pid);
    let now = readRss(node.pid);
    const settleBy = Date.now() + 10_000;
    const fdLimit = baseFds + (options.settleFds ?? 8);
    const rssLimit = baseRss + (options.settleMb ?? 64) * 1024 * 1024;
    let nowGauges = await gauges();
    const settled = () =>
      fds <= fdLimit && now <= rssLimit && nowGauges.every((g, i) => g <= baseGauges[i]);
    while (Date.now() < settleBy && !settled()) {
      await sleep(250);
      fds = fdCount(node.pid);
      now = readRss(node.pid);
      nowGauges = await gauges();
    }
    const total = Object.values(kinds).reduce((a, b) => a + b, 0);
    result.notes.push(
      `${total} connections (${failures} refused), fds ${baseFds} -> ${peakFds} -> ${fds}`,
      `RSS ${mbOf(baseRss)} -> ${mbOf(now)} MB after`,
      `connections/subscriptions ${baseGauges.join("/")} -> ${nowGauges.join("/")}`,
    );
    if (nowGauges.some((g, i) => g > baseGauges[i])) {
      result.violations.push(
        `connections/subscriptions gauges did not come back: ${baseGauges} -> ${nowGauges}`,
      );
    }
    if (fds > fdLimit) result.violations.push(`fds did not come back: ${baseFds} -> ${fds}`);
    if (now > rssLimit) {
      result.violations.push(`RSS did not come back: ${mbOf(baseRss)} -> ${mbOf(now)} MB`);
    }
    if (total < options.seconds * 50) result.violations.push(`too few connections: ${total}`);
    await stillServed(node.wsUrl).catch((err) => result.violations.push(String(err)));
  } finally {
    for (const c of held) quietClose(c);
    await finishRun(result, rss, node, started);
  }
  return result;
}

/** One abrupt connection of the given kind. */
async function once(port: number, kind: string, held: Deno.Conn[]): Promise<void> {
  if (kind === "tcp") {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    conn.close();
    return;
  }
  if (kind === "head") {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    await conn.write(enc.encode("GET /v1/ws HTTP/1.1\r\nHost: x\r\nUpgrade: webs"));
    conn.close();
    return;
  }
  const ws = await RawTcpWs.open(port);
  if (kind === "half-open") {
    held.push(ws.conn);
    return;
  }
  if (kind === "hello-vanish") {
    await ws.write(clientFrame(0x2, pb([[F.hello, [[1, "storm"], [2, 1]]]])));
  } else if (kind === "subscribe-vanish") {
    await ws.write(clientFrame(0x2, pb([[F.subscribe, [[1, 1], [3, "storm.>"]]]])));
  }
  ws.close();
}
