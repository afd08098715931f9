/**
 * `arqon history [pattern]`: prints stored pulses in sequence order.
 * @module
 */
import { Command } from "commander";
import { connect, type GlobalOptions, intOption, pulseJson, pulseLine, timeMs } from "./common.ts";

/** The `history` command. */
export function historyCommand(globals: () => GlobalOptions): Command {
  return new Command("history")
    .description("Print the stored pulses of a reality (only topics with a retention rule).")
    .argument("[pattern]", "topic pattern; omitted: every topic")
    .option("-r, --reality <name>", "reality to read", "default")
    .option("--from-seq <n>", "first sequence (inclusive)")
    .option("--to-seq <n>", "last sequence (inclusive)")
    .option("--from-time <t>", "from a time: ISO date, epoch ms, or -5m (ago)")
    .option("-l, --limit <n>", "at most this many pulses (default: the node's limit)")
    .option("--json", "print one JSON object a line")
    .addHelpText(
      "after",
      `
Example:
  arqon history 'orders.>' --from-seq 100 --limit 20 --json`,
    )
    .action(async (pattern: string | undefined, o) => {
      const query = {
        reality: o.reality,
        pattern: pattern ?? "",
        fromSequence: intOption("--from-seq", o.fromSeq, 0) ?? 0,
        toSequence: intOption("--to-seq", o.toSeq, 0) ?? 0,
        fromTimeMs: o.fromTime ? timeMs(o.fromTime) : 0,
        limit: intOption("--limit", o.limit, 1) ?? 0,
      };
      const client = await connect(globals(), "arqon-history");
      try {
        for (const p of await client.history(query)) {
          console.log(o.json ? JSON.stringify(pulseJson(p)) : pulseLine(p));
        }
      } finally {
        await client.close();
      }
    });
}
