/**
 * Flood: 1 KB publishes at the highest rate the node takes, from several raw connections
 * with durable acks, while subscribers read. Afterwards every acknowledged pulse must be in
 * the reality's history (read back over HTTP) with the sequence its ack gave, exactly once,
 * with no gap in the sequences.
 * @module
 */
import { concat, F, frames, pb } from "../../support/pb.ts";
import { clientFrame, type NodeChild, type RawTcpWs, startNodeChild } from "../support.ts";
import {
  count,
  ERROR_NAMES,
  finishRun,
  newResult,
  quietClose,
  RssSampler,
  type ScenarioResult,
} from "./common.ts";
import { FrameReader } from "./wire.ts";

/** Options of the flood. */
export interface FloodOptions {
  /** How long publishers publish, seconds. */
  readonly seconds: number;
  /** Publishing connections. @default 4 */
  readonly publishers?: number;
  /** Reading subscribers. @default 2 */
  readonly subscribers?: number;
  /** Unacknowledged publishes per connection. @default 256 */
  readonly window?: number;
  /** RSS ceiling, MB. @default 512 */
  readonly ceilingMb?: number;
}

const REALITY = "soak";
const PAYLOAD = 1024;
const enc = new TextEncoder();

/** A payload of exactly 1 KB starting with `id|`. */
function payloadOf(id: string): Uint8Array {
  const out = new Uint8Array(PAYLOAD).fill(0x2e);
  out.set(enc.encode(`${id}|`));
  return out;
}

/** Runs the flood on a fresh node with a data dir. */
export async function floodScenario(options: FloodOptions): Promise<ScenarioResult> {
  const result = newResult("flood", options.ceilingMb ?? 512);
  const started = Date.now();
  const node = await startNodeChild();
  const rss = new RssSampler(() => node.pid);
  const acked = new Map<string, number>();
  const subs: [RawTcpWs, FrameReader][] = [];
  let delivered = 0;
  let reading = true;
  try {
    const res = await fetch(`${node.httpUrl}/v1/realities/${REALITY}`, {
      method: "PUT",
      body: JSON.stringify({ retention: [{ pattern: ">" }] }),
    });
    await res.body?.cancel();
    if (res.status >= 300) throw new Error(`could not create the reality: ${res.status}`);
    for (let i = 0; i < (options.subscribers ?? 2); i++) {
      const sub = await FrameReader.open(node.port);
      await sub[0].write(clientFrame(
        0x2,
        pb([[F.subscribe, [[1, 1], [2, REALITY], [3, "flood.>"]]]]),
      ));
      subs.push(sub);
    }
    const readers = subs.map(async ([, reader]) => {
      while (reading) {
        const ev = await reader.next(200);
        if (ev.kind === "eof") return;
        if (ev.kind !== "frame" || ev.opcode !== 0x2) continue;
        for (const [kind] of frames(ev.payload)) if (kind === F.deliver) delivered++;
      }
    });
    const deadline = Date.now() + options.seconds * 1000;
    await Promise.all(
      Array.from(
        { length: options.publishers ?? 4 },
        (_, c) => publish(node, c, deadline, options.window ?? 256, acked, result),
      ),
    );
    reading = false;
    await Promise.all(readers);
    result.acked = acked.size;
    const { stored, problems } = await verifyHistory(node, acked);
    result.lost = problems.lost;
    if (problems.lost) result.violations.push(`${problems.lost} acked pulses missing`);
    if (problems.gaps) result.violations.push(`${problems.gaps} sequence gaps`);
    if (problems.duplicates) result.violations.push(`${problems.duplicates} stored twice`);
    result.notes.push(
      `${
        Math.round(acked.size / options.seconds)
      } acked/s, ${stored} stored, ${delivered} delivered`,
    );
  } finally {
    reading = false;
    for (const [ws] of subs) quietClose(ws);
    await finishRun(result, rss, node, started);
  }
  return result;
}

/** One publishing connection: keeps `window` durable publishes in flight until `deadline`. */
async function publish(
  node: NodeChild,
  client: number,
  deadline: number,
  window: number,
  acked: Map<string, number>,
  result: ScenarioResult,
): Promise<void> {
  const [ws, reader] = await FrameReader.open(node.port);
  const inFlight = new Map<number, string>();
  let next = 1;
  let open = true;
  try {
    while (open && (Date.now() < deadline || inFlight.size > 0)) {
      if (Date.now() < deadline && inFlight.size < window / 2) {
        const batch: Uint8Array[] = [];
        while (inFlight.size < window) {
          const id = `p${client}-${next}`;
          inFlight.set(next, id);
          batch.push(clientFrame(
            0x2,
            pb([[F.publish, [[1, next++], [2, 2], [3, [[3, "flood.x"], [5, REALITY], [
              11,
              payloadOf(id),
            ]]]]]]),
          ));
        }
        if (!await ws.write(concat(...batch))) break;
      }
      const ev = await reader.next(Date.now() < deadline ? 1000 : 10_000);
      if (ev.kind === "eof") open = false;
      if (ev.kind === "timeout" && Date.now() >= deadline) break; // unanswered: not acked
      if (ev.kind !== "frame") continue;
      if (ev.opcode === 0x8) open = false;
      if (ev.opcode !== 0x2) continue;
      for (const [kind, m] of frames(ev.payload)) {
        const corr = Number(m.get(1)?.at(-1) ?? 0);
        if (kind === F.ack) {
          const id = inFlight.get(corr);
          if (id !== undefined) acked.set(id, Number(m.get(3)?.at(-1) ?? 0));
          inFlight.delete(corr);
        } else if (kind === F.error) {
          count(result.errors, ERROR_NAMES[Number(m.get(1)?.at(-1) ?? 0)] ?? "UNSPECIFIED");
          inFlight.delete(Number(m.get(3)?.at(-1) ?? 0));
        }
      }
    }
  } finally {
    quietClose(ws);
  }
}

/** Reads the whole history back and checks it against the acks. */
async function verifyHistory(
  node: NodeChild,
  acked: Map<string, number>,
): Promise<{ stored: number; problems: { lost: number; gaps: number; duplicates: number } }> {
  const seen = new Map<string, number>();
  let expected = 1;
  let gaps = 0;
  let duplicates = 0;
  const dec = new TextDecoder();
  while (true) {
    const url = `${node.httpUrl}/v1/realities/${REALITY}/history?from_seq=${expected}&limit=20000`;
    const res = await fetch(url);
    if (res.status !== 200) throw new Error(`history: ${res.status} ${await res.text()}`);
    let lines = 0;
    let rest = "";
    const flush = (line: string) => {
      if (!line) return;
      lines++;
      const pulse = JSON.parse(line) as { sequence: string; payload: string };
      const sequence = Number(pulse.sequence);
      if (sequence !== expected) gaps++;
      expected = sequence + 1;
      // The id is at the start of the payload: decode only its first bytes.
      const head = dec.decode(
        Uint8Array.from(atob(pulse.payload.slice(0, 32)), (ch) => ch.charCodeAt(0)),
      );
      const id = head.slice(0, head.indexOf("|"));
      if (seen.has(id)) duplicates++;
      seen.set(id, sequence);
    };
    for await (const chunk of res.body!.pipeThrough(new TextDecoderStream())) {
      const parts = (rest + chunk).split("\n");
      rest = parts.pop()!;
      for (const line of parts) flush(line);
    }
    flush(rest);
    if (lines === 0) break;
  }
  let lost = 0;
  for (const [id, sequence] of acked) if (seen.get(id) !== sequence) lost++;
  return { stored: seen.size, problems: { lost, gaps, duplicates } };
}
