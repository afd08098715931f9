/**
 * `arqon sub <pattern>`: prints the pulses of a topic pattern as they arrive.
 * @module
 */
import { Command } from "commander";
import {
  CliError,
  connect,
  EXIT,
  type GlobalOptions,
  intOption,
  pulseJson,
  pulseLine,
  timeMs,
} from "./common.ts";

/** The `sub` command. */
export function subCommand(globals: () => GlobalOptions): Command {
  return new Command("sub")
    .description(
      "Subscribe to a topic pattern and print each pulse (* matches one segment, > the rest).",
    )
    .argument("<pattern>", "topic pattern, e.g. orders.> or sensor.*.temp")
    .option("-r, --reality <name>", "reality to subscribe in", "default")
    .option("--json", "print one JSON object a line instead of readable lines")
    .option("--from-seq <n>", "first replay stored pulses from this sequence, then go live")
    .option("--from-time <t>", "replay from a time: ISO date, epoch ms, or -5m (ago)")
    .option("-q, --queue <group>", "join a queue group: each pulse goes to one member")
    .option("-n, --count <n>", "exit after this many pulses (default: run until Ctrl-C)")
    .addHelpText(
      "after",
      `
The line "subscribed to <pattern>" goes to stderr once the node confirmed the subscription,
so stdout carries only pulses.

Examples:
  arqon sub 'orders.>'
  arqon sub 'sensor.*.temp' --json --from-seq 1 --count 100`,
    )
    .action(async (pattern: string, o) => {
      const count = intOption("--count", o.count, 1);
      const fromSequence = intOption("--from-seq", o.fromSeq, 1) ?? 0;
      const fromTimeMs = o.fromTime ? timeMs(o.fromTime) : 0;
      const client = await connect(globals(), "arqon-sub");
      try {
        const sub = client.subscribe(pattern, {
          reality: o.reality,
          queueGroup: o.queue ?? "",
          fromSequence,
          fromTimeMs,
          resume: false,
        });
        await sub.ready;
        console.error(`arqon: subscribed to ${pattern}`);
        let seen = 0;
        for await (const pulse of sub) {
          console.log(o.json ? JSON.stringify(pulseJson(pulse)) : pulseLine(pulse));
          if (count !== undefined && ++seen >= count) return;
        }
        throw new CliError(EXIT.CONNECTION, "the connection to the node was lost");
      } finally {
        await client.close();
      }
    });
}
