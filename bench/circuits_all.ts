/**
 * `deno task bench:circuits`: the figures of the circuits issue (13, item 6) in one run:
 * the 3-stage demo circuit in the node against three external stage processes
 * (`bench/circuits_bench.ts`), then the native proxy against direct HTTP with keep-alive
 * (`bench/proxy_bench.ts`), each in its own process (bench/parts.ts). Arguments go to the
 * circuit part; `deno task bench:proxy` runs the proxy part alone with its own options.
 *
 *   deno task bench:circuits [circuit bench options]
 * @module
 */
import { runParts } from "./parts.ts";

if (Deno.args.includes("--help") || Deno.args.includes("-h")) {
  console.log(
    "usage: deno task bench:circuits [options of bench/circuits_bench.ts]\n\n" +
      "  Runs bench/circuits_bench.ts (with these options), then bench/proxy_bench.ts.\n" +
      "  deno run -A bench/circuits_bench.ts --help and deno task bench:proxy --help show\n" +
      "  each part's options.",
  );
  Deno.exit(0);
}
Deno.exit(
  await runParts([
    {
      title: "circuits: in-node against external stages",
      script: "circuits_bench.ts",
      args: Deno.args,
    },
    { title: "native proxy: against direct HTTP", script: "proxy_bench.ts" },
  ]),
);
