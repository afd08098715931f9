/**
 * `deno task bench:agents`: the three figures of the agents issue (16, item 8), one run,
 * each part in its own process (bench/parts.ts):
 *
 * (a) latency lanes: a critical 1->1 stream's p99 under a bulk flood against alone
 *     (`bench/agents/lanes.ts`);
 * (b) semantic anycast: routing cost per pulse at 10, 1,000 and 100,000 embeddings of
 *     dimension 384, recall@1 of the approximate index (`bench/agents/anycast.ts`);
 * (c) A2A: a SendMessage round trip through the bus against a direct HTTP call to the same
 *     agent logic (`bench/agents/a2a.ts`).
 *
 *   deno task bench:agents [--quick]
 *
 * `--quick` shortens each part (fewer seconds, calls and queries) for a smoke run.
 * @module
 */
import { parseArgs } from "node:util";
import { runParts } from "./parts.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: { quick: { type: "boolean", default: false }, help: { type: "boolean" } },
});
if (values.help) {
  console.log(
    "usage: deno task bench:agents [--quick]\n\n" +
      "  Runs bench/agents/lanes.ts, anycast.ts and a2a.ts in turn and prints their figures.\n" +
      "  --quick  shorter runs (a smoke test of the benches, not figures to quote)",
  );
  Deno.exit(0);
}
const quick = values.quick;
Deno.exit(
  await runParts([
    {
      title: "(a) latency lanes",
      script: "agents/lanes.ts",
      args: quick ? ["--seconds", "2", "--rounds", "1"] : [],
    },
    {
      title: "(b) semantic anycast",
      script: "agents/anycast.ts",
      args: quick ? ["10,1000,100000", "100"] : [],
    },
    { title: "(c) A2A round trip", script: "agents/a2a.ts", args: quick ? ["300"] : [] },
  ]),
);
