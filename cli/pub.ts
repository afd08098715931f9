/**
 * `arqon pub <topic> [payload|-]`: publishes one pulse (or `--count` of them).
 * @module
 */
import { Command, Option } from "commander";
import type { PublishAck } from "../runtime/client/mod.ts";
import { collect, connect, type GlobalOptions, headersOf, intOption, readStdin } from "./common.ts";

/** Publishes in flight at once with `--count`. */
const WINDOW = 1000;

/** The `pub` command. */
export function pubCommand(globals: () => GlobalOptions): Command {
  return new Command("pub")
    .description("Publish a pulse to a topic and print its sequence.")
    .argument("<topic>", "topic to publish to, e.g. orders.created")
    .argument("[payload]", 'payload text; "-" reads it from stdin; omitted: empty')
    .option("-r, --reality <name>", "reality to publish in", "default")
    .addOption(
      new Option("--ack <mode>", "wait for: none, received (accepted) or durable (stored)")
        .choices(["none", "received", "durable"]).default("received"),
    )
    .option("-n, --count <n>", "publish the payload this many times", "1")
    .option("-H, --header <key=value>", "a header (repeatable)", collect)
    .option("-t, --content-type <mime>", "content type, e.g. application/json")
    .option("--json", "print each acknowledgement as a JSON line")
    .addHelpText(
      "after",
      `
Examples:
  arqon pub orders.created '{"id":1}' -t application/json
  echo hello | arqon pub greetings -
  arqon pub sensor.1.temp 21.5 --ack durable --count 10 --header unit=C`,
    )
    .action(async (topic: string, payload: string | undefined, o) => {
      const count = intOption("--count", o.count, 1)!;
      const headers = headersOf(o.header);
      const body = payload === "-" ? await readStdin() : (payload ?? "");
      const client = await connect(globals(), "arqon-pub");
      try {
        // At most WINDOW acks outstanding, printed in order: `--count 1e7` runs in bounded memory.
        const acks: Promise<PublishAck | undefined>[] = [];
        const print = (ack: PublishAck | undefined) => {
          if (!ack) return;
          if (o.json) console.log(JSON.stringify(ack));
          else console.log(`published ${topic} #${ack.sequence} (${ack.reality}) id ${ack.id}`);
        };
        for (let i = 0; i < count; i++) {
          acks.push(client.publish(topic, body, {
            reality: o.reality,
            ack: o.ack,
            headers,
            contentType: o.contentType ?? "",
          }));
          if (acks.length >= WINDOW) print(await acks.shift());
        }
        for (const pending of acks) print(await pending);
        if (o.ack === "none") {
          // Fire and forget still waits until the node has read the frames.
          await client.flush();
          if (!o.json) console.log(`published ${count} to ${topic} (no ack)`);
        }
      } finally {
        await client.close();
      }
    });
}
