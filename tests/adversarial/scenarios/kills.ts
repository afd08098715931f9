/**
 * Kills: durable publishers against a node that is SIGKILLed at random moments and
 * restarted on the same data directory, over and over (`deno task soak` runs it for a
 * time, tests/crash_durable_test.ts for a fixed number of cycles). After every restart
 * each acknowledged pulse is stored exactly once with the sequence its ack reported, and
 * the sequences are contiguous.
 * @module
 */
import { ArqonClient } from "../../../runtime/client/mod.ts";
import { NodeProcess } from "../../store_node_process.ts";
import { newResult, prng, RssSampler, type ScenarioResult } from "./common.ts";

/** Options of the kill scenario. */
export interface KillOptions {
  /** Kill and restart until this many seconds have passed (at least one cycle). */
  readonly seconds?: number;
  /** Run exactly this many kill cycles instead (the time is then not looked at). */
  readonly cycles?: number;
  /** Publishing clients per cycle. @default 4 */
  readonly clients?: number;
  /** RSS ceiling, MB. @default 400 */
  readonly ceilingMb?: number;
  /** Seed of the kill schedule. @default 0xa11ce */
  readonly seed?: number;
}

const REALITY = "crash";
const IN_FLIGHT = 64;

/** Runs kill/restart cycles until the time is up, then verifies the store once more. */
export async function killScenario(options: KillOptions): Promise<ScenarioResult> {
  const result = newResult("kills", options.ceilingMb ?? 400);
  const started = Date.now();
  const dir = await Deno.makeTempDir({ prefix: "arqon-soak-kill-" });
  const random = prng(options.seed ?? 0xa11ce);
  const acked = new Map<string, number>();
  const syncs = ["batch", "always", "os"] as const;
  let current = 0;
  const rss = new RssSampler(() => current);
  const deadline = started + (options.seconds ?? 0) * 1000;
  const more = (n: number) =>
    options.cycles !== undefined ? n < options.cycles : n === 0 || Date.now() < deadline;
  let cycles = 0;
  let stored = 0;
  try {
    for (; more(cycles); cycles++) {
      const node = await NodeProcess.start(dir, ["--sync", syncs[cycles % syncs.length]]);
      current = node.pid;
      if (cycles === 0) {
        const res = await fetch(`${node.url}/v1/realities/${REALITY}`, {
          method: "PUT",
          body: JSON.stringify({ retention: [{ pattern: ">" }] }),
        });
        await res.body?.cancel();
      } else if (!check(await storedIds(node.url), acked, result, `cycle ${cycles}`)) {
        node.kill("SIGKILL");
        await node.exited();
        break;
      }
      const publishers = Array.from(
        { length: options.clients ?? 4 },
        (_, c) => publishUntilKilled(node.wsUrl, c, cycles, acked),
      );
      await new Promise((r) => setTimeout(r, 50 + random() * 400));
      current = 0;
      node.kill("SIGKILL");
      await Promise.all(publishers);
      await node.exited();
    }
    const node = await NodeProcess.start(dir, []);
    current = node.pid;
    try {
      const ids = await storedIds(node.url);
      stored = ids.length;
      check(ids, acked, result, "final");
    } finally {
      current = 0;
      node.kill("SIGKILL");
      await node.exited();
    }
  } finally {
    result.peakRss = rss.stop();
    if (result.peakRss > result.ceiling) result.violations.push("RSS over its ceiling");
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    result.seconds = (Date.now() - started) / 1000;
  }
  result.acked = acked.size;
  if (acked.size < cycles * 10) result.violations.push(`too few acks: ${acked.size}`);
  result.notes.push(`${cycles} SIGKILL cycles, ${stored} stored`);
  return result;
}

async function publishUntilKilled(
  wsUrl: string,
  client: number,
  cycle: number,
  acked: Map<string, number>,
): Promise<void> {
  let conn: ArqonClient;
  try {
    conn = await ArqonClient.connect(wsUrl, { name: `c${client}`, reconnect: false });
  } catch {
    return; // killed before this client connected
  }
  const encoder = new TextEncoder();
  let n = 0;
  const inFlight = new Set<Promise<void>>();
  let alive = true;
  while (alive) {
    const id = `c${client}-k${cycle}-${n++}`;
    const p: Promise<void> = conn.publish("crash.test", encoder.encode(id), {
      reality: REALITY,
      ack: "durable",
    }).then(
      (ack) => {
        acked.set(id, ack!.sequence);
      },
      () => {
        alive = false; // the node died; this publish may or may not have been stored
      },
    ).finally(() => inFlight.delete(p));
    inFlight.add(p);
    if (inFlight.size >= IN_FLIGHT) await Promise.race(inFlight);
  }
  await Promise.allSettled(inFlight);
  await conn.close().catch(() => {});
}

async function storedIds(url: string): Promise<{ id: string; sequence: number }[]> {
  const res = await fetch(`${url}/v1/realities/${REALITY}/history`);
  if (res.status !== 200) throw new Error(`history: ${res.status} ${await res.text()}`);
  const text = await res.text();
  const decoder = new TextDecoder();
  return text.split("\n").filter((line) => line.length > 0).map((line) => {
    const pulse = JSON.parse(line);
    const bytes = Uint8Array.from(atob(pulse.payload), (c) => c.charCodeAt(0));
    return { id: decoder.decode(bytes), sequence: Number(pulse.sequence) };
  });
}

/** Checks the store against the acks; records violations and the loss count. */
function check(
  stored: { id: string; sequence: number }[],
  acked: Map<string, number>,
  result: ScenarioResult,
  when: string,
): boolean {
  const before = result.violations.length;
  const gaps = stored.filter((p, i) => p.sequence !== i + 1).length;
  if (gaps) result.violations.push(`${when}: ${gaps} pulses out of sequence`);
  const seen = new Map<string, number>();
  let twice = 0;
  for (const p of stored) {
    if (seen.has(p.id)) twice++;
    seen.set(p.id, p.sequence);
  }
  if (twice) result.violations.push(`${when}: ${twice} pulses stored twice`);
  let lost = 0;
  for (const [id, sequence] of acked) if (seen.get(id) !== sequence) lost++;
  result.lost = Math.max(result.lost, lost);
  if (lost) result.violations.push(`${when}: ${lost} acked pulses lost`);
  return result.violations.length === before;
}
