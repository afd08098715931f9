/**
 * `deno task soak`: the long versions of the adversarial scenarios (tests/adversarial/),
 * each against a fresh node child process whose RSS is sampled every 250 ms, ending with
 * one summary table. Exits non-zero if any scenario went over its RSS ceiling, lost an
 * acknowledged pulse or broke another of its promises.
 *
 * @example
 * ```sh
 * deno task soak                       # every scenario, 30 s each
 * deno task soak --seconds 120 --only flood --only kills
 * deno task soak --only fuzz --seed 0x5eed   # replay a fuzz run
 * ```
 * @module
 */
import { parseArgs } from "node:util";
import { mbOf, type ScenarioResult } from "../tests/adversarial/scenarios/common.ts";
import { floodScenario } from "../tests/adversarial/scenarios/flood.ts";
import { slowConsumers } from "../tests/adversarial/scenarios/slow_consumers.ts";
import { fuzzScenario } from "../tests/adversarial/scenarios/fuzz.ts";
import { killScenario } from "../tests/adversarial/scenarios/kills.ts";
import { reconnectStorm } from "../tests/adversarial/scenarios/reconnect_storm.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    seconds: { type: "string", default: "30" },
    only: { type: "string", multiple: true },
    seed: { type: "string" },
    help: { type: "boolean", short: "h" },
  },
});

const SCENARIOS: Record<string, (seconds: number, seed: number) => Promise<ScenarioResult>> = {
  flood: (seconds) => floodScenario({ seconds }),
  "slow-consumers": (seconds) => slowConsumers({ seconds }),
  fuzz: (seconds, seed) => fuzzScenario({ seconds, seed }),
  kills: (seconds) => killScenario({ seconds }),
  "reconnect-storm": (seconds) => reconnectStorm({ seconds }),
};

if (values.help) {
  console.log(
    "usage: deno task soak [--seconds <n>] [--only <scenario>]... [--seed <n>]\n\n" +
      "  --seconds <n>        seconds each scenario runs (default: 30)\n" +
      "  --only <scenario>    run only this scenario (repeatable; default: all)\n" +
      "  --seed <n>           the fuzz scenario's seed, to replay a run (default: random)\n\n" +
      `Scenarios: ${Object.keys(SCENARIOS).join(", ")}. Exits non-zero when one breaks a ` +
      "promise (RSS ceiling, acknowledged loss).",
  );
  Deno.exit(0);
}

const seconds = Number(values.seconds);
if (!(seconds > 0)) throw new Error(`--seconds must be a positive number: ${values.seconds}`);
const only = (values.only ?? []).flatMap((o) => o.split(","));
for (const name of only) {
  if (!(name in SCENARIOS)) throw new Error(`unknown scenario ${name}`);
}
// A fresh seed each run explores new cases; printed so that a failure can be replayed.
const seed = values.seed ? Number(values.seed) : (Math.random() * 0xffffffff) >>> 0;
console.log(`soak: ${seconds} s a scenario, fuzz seed 0x${seed.toString(16)}`);

const results: ScenarioResult[] = [];
for (const [name, run] of Object.entries(SCENARIOS)) {
  if (only.length && !only.includes(name)) continue;
  console.log(`-- ${name} ...`);
  let result: ScenarioResult;
  try {
    result = await run(seconds, seed);
  } catch (err) {
    result = {
      name,
      seconds: 0,
      peakRss: 0,
      ceiling: 0,
      acked: 0,
      lost: 0,
      errors: {},
      notes: [],
      violations: [`the scenario failed: ${err instanceof Error ? err.message : err}`],
    };
  }
  for (const v of result.violations) console.log(`   VIOLATED: ${v}`);
  results.push(result);
}

console.log();
console.log(table(results));
const failed = results.filter((r) => r.violations.length > 0);
if (failed.length) {
  console.log(`\n${failed.length} scenario(s) violated: ${failed.map((r) => r.name).join(", ")}`);
  Deno.exit(1);
}

/** The summary table, one row a scenario, columns padded (Markdown-compatible). */
function table(rows: ScenarioResult[]): string {
  const head = [
    "scenario",
    "duration",
    "peak RSS MB",
    "RSS ceiling MB",
    "ok/violated",
    "acked",
    "lost",
    "errors (typed)",
    "notes",
  ];
  const cells = rows.map((r) => [
    r.name,
    `${r.seconds.toFixed(1)} s`,
    mbOf(r.peakRss),
    mbOf(r.ceiling),
    r.violations.length ? "VIOLATED" : "ok",
    r.acked ? String(r.acked) : "-",
    r.acked || r.lost ? String(r.lost) : "-",
    errorsCell(r.errors),
    r.notes.join("; "),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c: string[]) => `| ${c.map((x, i) => x.padEnd(widths[i])).join(" | ")} |`;
  return [line(head), line(widths.map((w) => "-".repeat(w))), ...cells.map(line)].join("\n");
}

/** The typed errors, most frequent first. */
function errorsCell(errors: Record<string, number>): string {
  const all = Object.entries(errors).sort((a, b) => b[1] - a[1]);
  if (!all.length) return "-";
  const shown = all.slice(0, 5).map(([k, v]) => `${k} ${v}`);
  if (all.length > 5) shown.push(`+${all.length - 5} more`);
  return shown.join(", ");
}
