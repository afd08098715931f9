/**
 * Fuzzing: mutated protobuf and JSON frames, random WebSocket frame headers and random
 * HTTP requests against one node, from a seeded PRNG (the seed replays the run). The node
 * must never crash, every error it answers must be typed (a code other than UNSPECIFIED
 * or INTERNAL; over HTTP the `{"error":{"code"}}` body), and its RSS stays bounded.
 * Cases are counted by outcome. The generators: fuzz_frames.ts (protobuf and JSON),
 * fuzz_ws.ts (frame headers), fuzz_http.ts (HTTP requests), sharing fuzz_kit.ts.
 * @module
 */
import { startNodeChild } from "../support.ts";
import { count, newResult, prng, RssSampler, type ScenarioResult } from "./common.ts";
import { FrameCases } from "./fuzz_frames.ts";
import { httpCase } from "./fuzz_http.ts";
import { FuzzKit } from "./fuzz_kit.ts";
import { headerCase } from "./fuzz_ws.ts";

/** Options of the fuzz scenario. */
export interface FuzzOptions {
  /** PRNG seed; the same seed sends the same cases. */
  readonly seed: number;
  /** Stop after this many cases. @default Infinity */
  readonly cases?: number;
  /** Stop after this many seconds. @default Infinity */
  readonly seconds?: number;
  /** RSS ceiling, MB. @default 400 */
  readonly ceilingMb?: number;
}

/** Runs the fuzz scenario on a fresh node. */
export async function fuzzScenario(options: FuzzOptions): Promise<ScenarioResult> {
  const result = newResult("fuzz", options.ceilingMb ?? 400);
  const started = Date.now();
  const node = await startNodeChild();
  const rss = new RssSampler(() => node.pid);
  const kit = new FuzzKit(node, prng(options.seed), result);
  const frameCases = new FrameCases(kit);
  const outcomes: Record<string, number> = {};
  const maxCases = options.cases ?? Infinity;
  const deadline = started + (options.seconds ?? Infinity) * 1000;
  let cases = 0;
  try {
    while (cases < maxCases && Date.now() < deadline && node.alive()) {
      const pick = kit.random();
      const outcome = pick < 0.4
        ? await frameCases.protoCase()
        : pick < 0.6
        ? await frameCases.jsonCase()
        : pick < 0.85
        ? await headerCase(kit)
        : await httpCase(kit);
      count(outcomes, outcome);
      cases++;
    }
  } finally {
    frameCases.close();
    await Promise.resolve();
  }
  if (!node.alive()) result.violations.push(`the node died after ${cases} cases`);
  result.peakRss = rss.stop();
  if (result.peakRss > result.ceiling) result.violations.push("RSS over its ceiling");
  await node.stop();
  result.seconds = (Date.now() - started) / 1000;
  const byKind: Record<string, number> = {};
  for (const [k, v] of Object.entries(outcomes)) count(byKind, k.split(" ")[0], v);
  result.notes.push(
    `seed 0x${options.seed.toString(16)}, ${cases} cases`,
    Object.entries(outcomes).sort((a, b) => b[1] - a[1]).slice(0, 6).map(([k, v]) => `${k} ${v}`)
      .join(", "),
  );
  if (kit.invalidCloses) result.notes.push(`invalid close codes sent: ${kit.invalidCloses}`);
  return result;
}
