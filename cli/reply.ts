/**
 * `arqon reply <topic> [-- command args...]`: a responder that answers each request from a
 * shell command (the request payload on its stdin, its stdout the reply) or a template.
 * @module
 */
import { Command } from "commander";
import type { IPulse } from "../runtime/client/mod.ts";
import { CliError, connect, EXIT, type GlobalOptions, intOption, messageOf } from "./common.ts";

const decoder = new TextDecoder();

/** The `reply` command. */
export function replyCommand(globals: () => GlobalOptions): Command {
  return new Command("reply")
    .description("Answer requests on a topic, from a command's output or a template.")
    .argument("<topic>", "topic pattern to answer, e.g. math.double")
    .argument("[command...]", "after --: the command to run per request (payload on stdin)")
    .option("--template <text>", "reply with this text; {{payload}} and {{topic}} are replaced")
    .option("-r, --reality <name>", "reality to answer in", "default")
    .option("-q, --queue <group>", "queue group, so several responders share the load")
    .option("-n, --count <n>", "exit after answering this many requests")
    .addHelpText(
      "after",
      `
Give exactly one of --template or a command after "--". A command that exits non-zero still
answers with its stdout; its exit code is printed on stderr. The line "replying on <topic>" goes
to stderr once the responder is ready.

Examples:
  arqon reply greet --template 'hello {{payload}}'
  arqon reply math.double -- sh -c 'read n; echo $((n * 2))'`,
    )
    .action(async (topic: string, command: string[], o) => {
      const count = intOption("--count", o.count, 1);
      if ((o.template === undefined) === (command.length === 0)) {
        throw new CliError(EXIT.USAGE, "give either --template <text> or -- <command...>");
      }
      const answer = o.template !== undefined
        ? (p: IPulse) => Promise.resolve(fill(o.template, p))
        : (p: IPulse) => run(command, p);
      const client = await connect(globals(), "arqon-reply");
      try {
        const sub = client.subscribe(topic, {
          reality: o.reality,
          queueGroup: o.queue ?? "",
          resume: false,
        });
        await sub.ready;
        console.error(`arqon: replying on ${topic}`);
        let answered = 0;
        for await (const request of sub) {
          if (!request.replyTo) continue; // a plain publish, not a request
          await client.reply(request, await answer(request));
          if (count !== undefined && ++answered >= count) {
            await client.flush();
            return;
          }
        }
        throw new CliError(EXIT.CONNECTION, "the connection to the node was lost");
      } finally {
        await client.close();
      }
    });
}

/** The template with `{{payload}}` and `{{topic}}` replaced. */
export function fill(template: string, p: IPulse): string {
  return template.replaceAll("{{payload}}", decoder.decode(p.payload ?? new Uint8Array()))
    .replaceAll("{{topic}}", p.topic ?? "");
}

/** Runs the command with the payload on stdin; resolves with its stdout. */
async function run(command: string[], p: IPulse): Promise<Uint8Array> {
  let child;
  try {
    child = new Deno.Command(command[0], {
      args: command.slice(1),
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
      env: { ARQON_TOPIC: p.topic ?? "" },
    }).spawn();
  } catch (e) {
    throw new CliError(EXIT.USAGE, `cannot run ${command[0]}: ${messageOf(e)}`);
  }
  const w = child.stdin.getWriter();
  await w.write(p.payload ?? new Uint8Array()).catch(() => {}); // a command may not read it
  await w.close().catch(() => {});
  const out = await child.output();
  if (out.code !== 0) console.error(`arqon: ${command[0]} exited with ${out.code}`);
  return out.stdout;
}
