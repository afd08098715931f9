/**
 * `arqon req <topic> [payload|-]`: sends a request and prints the first reply.
 * @module
 */
import { Command } from "commander";
import {
  collect,
  connect,
  durationMs,
  type GlobalOptions,
  headersOf,
  pulseJson,
  readStdin,
} from "./common.ts";

/** The `req` command. */
export function reqCommand(globals: () => GlobalOptions): Command {
  return new Command("req")
    .description("Send a request to a topic and print the first reply's payload.")
    .argument("<topic>", "topic a responder listens on")
    .argument("[payload]", 'payload text; "-" reads it from stdin; omitted: empty')
    .option("-r, --reality <name>", "reality of the request", "default")
    .option("--timeout <duration>", "give up after this long (500ms, 5s, 1m)", "5s")
    .option("-H, --header <key=value>", "a header (repeatable)", collect)
    .option("-t, --content-type <mime>", "content type of the request")
    .option("--json", "print the whole reply pulse as JSON")
    .addHelpText(
      "after",
      `
Exit code 4 when no reply came in time, 2 when the node has no responder (NO_RESPONDERS).

Example:
  arqon req math.double 21 --timeout 2s`,
    )
    .action(async (topic: string, payload: string | undefined, o) => {
      const timeoutMs = durationMs("--timeout", o.timeout);
      const headers = headersOf(o.header);
      const body = payload === "-" ? await readStdin() : (payload ?? "");
      const client = await connect(globals(), "arqon-req");
      try {
        const reply = await client.request(topic, body, {
          reality: o.reality,
          timeoutMs,
          headers,
          contentType: o.contentType ?? "",
        });
        if (o.json) console.log(JSON.stringify(pulseJson(reply)));
        else await writeAll(reply.payload ?? new Uint8Array());
      } finally {
        await client.close();
      }
    });
}

/** Writes the reply's bytes as they are, with a newline when they lack one. */
async function writeAll(bytes: Uint8Array): Promise<void> {
  const w = Deno.stdout.writable.getWriter();
  await w.write(bytes);
  if (bytes.at(-1) !== 0x0a) await w.write(new Uint8Array([0x0a]));
  w.releaseLock();
}
