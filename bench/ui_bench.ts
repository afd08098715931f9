/**
 * `deno task bench:ui`: how fast the dashboard at `/ui` paints, measured in headless
 * Chromium (Debian `chromium`, driven by `playwright-core`) against a node running as its
 * own process (pinned to the server CPU where the machine allows).
 *
 * Each run opens a fresh browser context (empty cache) and loads `/ui/`; the page's own
 * Performance API gives first paint and first contentful paint (`paint` entries) and the
 * navigation's DOMContentLoaded; "first data" is when the summary figures are filled from
 * the node's API (the first `/metrics` and `/v1/connections` answers rendered). The target
 * is first paint under 1 s on this machine.
 *
 *   deno task bench:ui [--runs 10] [--json]
 * @module
 */
import { parseArgs } from "node:util";
import { chromium } from "playwright-core";
import { CAN_PIN, median, SERVER_CPU, startNodeProcess } from "./support.ts";
import { helpFromHeader } from "../scripts/task_cli.ts";

helpFromHeader(import.meta.url); // `--help`: the usage above, exit 0

const CHROMIUM = "/usr/bin/chromium";
const ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"];
const TARGET_MS = 1000;

const { values } = parseArgs({
  args: Deno.args,
  options: { runs: { type: "string", default: "10" }, json: { type: "boolean", default: false } },
});
const runs = Number(values.runs);
if (!Number.isInteger(runs) || runs < 1) {
  console.error("bench:ui: --runs must be a positive integer");
  Deno.exit(1);
}
if (!(await Deno.stat(CHROMIUM).then(() => true, () => false))) {
  console.error(`bench:ui: ${CHROMIUM} is not installed (apt-get install chromium)`);
  Deno.exit(1);
}
const build = await new Deno.Command(Deno.execPath(), {
  args: ["run", "-A", new URL("../scripts/build_ui.ts", import.meta.url).pathname],
  stdout: "null",
}).output();
if (build.code !== 0) Deno.exit(build.code);

interface Sample {
  firstPaint: number;
  firstContentfulPaint: number;
  domContentLoaded: number;
  firstData: number;
}

const node = await startNodeProcess(["--memory"], CAN_PIN ? SERVER_CPU : null);
const browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
const samples: Sample[] = [];
try {
  // One unmeasured load: the browser's own first start is not the page's cost.
  const warm = await browser.newContext();
  await (await warm.newPage()).goto(`${node.httpUrl}/ui/`);
  await warm.close();
  for (let i = 0; i < runs; i++) {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${node.httpUrl}/ui/`, { waitUntil: "load" });
    await page.locator('[data-testid="total-publish-rate"]').waitFor({ timeout: 10_000 });
    const sample = await page.evaluate(() => {
      const paint = (name: string) =>
        performance.getEntriesByType("paint").find((e) => e.name === name)?.startTime ?? NaN;
      const nav = performance.getEntriesByType("navigation")[0] as unknown as {
        domContentLoadedEventEnd: number;
      };
      return {
        firstPaint: paint("first-paint"),
        firstContentfulPaint: paint("first-contentful-paint"),
        domContentLoaded: nav.domContentLoadedEventEnd,
        firstData: performance.now(),
      };
    });
    samples.push(sample);
    await context.close();
  }
} finally {
  await browser.close();
  await node.stop();
}

const stats = (key: keyof Sample) => {
  const xs = samples.map((s) => s[key]).sort((a, b) => a - b);
  return {
    median: Math.round(median(xs)),
    p90: Math.round(xs[Math.min(xs.length - 1, Math.ceil(xs.length * 0.9) - 1)]),
    max: Math.round(xs.at(-1)!),
  };
};
const result = {
  runs,
  // The machine's load while it ran: paint times scale with it.
  loadAverage: Deno.loadavg()[0],
  firstPaintMs: stats("firstPaint"),
  firstContentfulPaintMs: stats("firstContentfulPaint"),
  domContentLoadedMs: stats("domContentLoaded"),
  firstDataMs: stats("firstData"),
  targetMs: TARGET_MS,
  met: stats("firstPaint").max < TARGET_MS,
};
if (values.json) console.log(JSON.stringify(result));
else {
  console.log(
    `dashboard /ui, ${runs} cold loads (median / p90 / max, ms), load average ${
      result.loadAverage.toFixed(1)
    }:`,
  );
  for (
    const [label, key] of [
      ["first paint", "firstPaintMs"],
      ["first contentful paint", "firstContentfulPaintMs"],
      ["DOMContentLoaded", "domContentLoadedMs"],
      ["first data rendered", "firstDataMs"],
    ] as const
  ) {
    const s = result[key];
    console.log(`  ${label.padEnd(24)} ${s.median} / ${s.p90} / ${s.max}`);
  }
  console.log(
    `target: first paint under ${TARGET_MS} ms: ${
      result.met ? "met" : "NOT met"
    } (max ${result.firstPaintMs.max} ms)`,
  );
}
