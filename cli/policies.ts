/**
 * `arqon policies list|get|put|delete`: CASIL policies (Wasm components) of a node.
 * @module
 */
import { Command } from "commander";
import { CliError, collect, EXIT, type GlobalOptions, http, printJson } from "./common.ts";
import { fileBytes, seg } from "./admin_util.ts";

/** The `policies` command. */
export function policiesCommand(globals: () => GlobalOptions): Command {
  const cmd = new Command("policies").description("List, show, install or remove policies.");
  cmd.command("list").description("List the installed policies with their bindings.")
    .action(async () => printJson(await http(globals(), "GET", "/v1/policies")));
  cmd.command("get").description("Show one policy.")
    .argument("<name>", "policy name")
    .action(async (name: string) =>
      printJson(await http(globals(), "GET", `/v1/policies/${seg(name)}`))
    );
  cmd.command("put").description("Install or replace a policy from a component or a built-in.")
    .argument("<name>", "policy name")
    .option("-f, --file <policy.wasm>", "the policy component")
    .option("--builtin <name>", "a shipped policy, e.g. payload_size_cap")
    .option("--reality <name>", "apply in this reality (repeatable; default all)", collect)
    .option("--topic <pattern>", "apply to this topic pattern (repeatable)", collect)
    .option("--order <n>", "evaluation order (lower first)")
    .option("--config <text>", 'the policy\'s configuration (JSON text, e.g. {"max_bytes":1024})')
    .addHelpText(
      "after",
      `
Example:
  arqon policies put size --builtin payload_size_cap \\
    --config '{"max_bytes":1024}' --topic 'sensor.>'`,
    )
    .action(async (name: string, o) => {
      if ((o.file === undefined) === (o.builtin === undefined)) {
        throw new CliError(EXIT.USAGE, "give either --file <policy.wasm> or --builtin <name>");
      }
      const q = new URLSearchParams();
      if (o.builtin) q.set("builtin", o.builtin);
      for (const r of o.reality ?? []) q.append("reality", r);
      for (const t of o.topic ?? []) q.append("topic", t);
      if (o.order !== undefined) q.set("order", o.order);
      if (o.config !== undefined) q.set("config", o.config);
      const body = o.file ? await fileBytes("--file", o.file) as BodyInit : undefined;
      printJson(await http(globals(), "PUT", `/v1/policies/${seg(name)}?${q}`, body));
    });
  cmd.command("delete").description("Remove a policy.")
    .argument("<name>", "policy name")
    .action(async (name: string) =>
      printJson(await http(globals(), "DELETE", `/v1/policies/${seg(name)}`))
    );
  return cmd;
}
