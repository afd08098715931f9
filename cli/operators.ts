/**
 * `arqon operators list|get|put|delete|resume|stop`: Wasm operators hosted by a node.
 * @module
 */
import { Command } from "commander";
import { CliError, collect, EXIT, type GlobalOptions, http, printJson } from "./common.ts";
import { fileBytes, jsonArg, seg } from "./admin_util.ts";

/** The `operators` command. */
export function operatorsCommand(globals: () => GlobalOptions): Command {
  const cmd = new Command("operators").description(
    "List, show, install, remove, resume or stop operators.",
  );
  cmd.command("list").description("List the operators with their status and counters.")
    .action(async () => printJson(await http(globals(), "GET", "/v1/operators")));
  for (
    const [verb, method, text] of [
      ["get", "GET", "Show one operator's status."],
      ["delete", "DELETE", "Remove an operator."],
    ] as const
  ) {
    cmd.command(verb).description(text).argument("<name>", "operator name")
      .action(async (name: string) =>
        printJson(await http(globals(), method, `/v1/operators/${seg(name)}`))
      );
  }
  for (
    const [verb, text] of [
      ["resume", "Resume a stopped or crashed operator."],
      ["stop", "Stop an operator (it keeps its install)."],
    ] as const
  ) {
    cmd.command(verb).description(text).argument("<name>", "operator name")
      .action(async (name: string) =>
        printJson(await http(globals(), "POST", `/v1/operators/${seg(name)}/${verb}`))
      );
  }
  cmd.command("put").description("Install or replace an operator.")
    .argument("<name>", "operator name")
    .option("--component <file.wasm>", "the operator component (with --manifest)")
    .option("--manifest <m.json>", "the manifest file (with --component; optional with --builtin)")
    .option("--builtin <name>", "a shipped operator, e.g. echo")
    .option(
      "--input <pattern>",
      "an input topic pattern (repeatable; adds to the manifest)",
      collect,
      [],
    )
    .option("--reality <name>", "the reality it runs in")
    .option("--config <json>", "its configuration object, or @file")
    .addHelpText(
      "after",
      `
Examples:
  arqon operators put echo1 --builtin echo --input 'sensors.>' --config '{"to":"all.sensors"}'
  arqon operators put mine --component op.wasm --manifest manifest.json`,
    )
    .action(async (name: string, o) => {
      if ((o.component === undefined) === (o.builtin === undefined)) {
        throw new CliError(EXIT.USAGE, "give either --component <file.wasm> or --builtin <name>");
      }
      if (o.component && !o.manifest) {
        throw new CliError(EXIT.USAGE, "--component needs --manifest <m.json>");
      }
      const manifest = o.manifest ? await jsonArg("--manifest", `@${o.manifest}`) : {};
      if ((o.input ?? []).length) {
        const inputs = Array.isArray(manifest.inputs) ? manifest.inputs : [];
        manifest.inputs = [...inputs, ...o.input];
      }
      if (o.reality) manifest.reality = o.reality;
      if (o.config) manifest.config = await jsonArg("--config", o.config);
      const path = `/v1/operators/${seg(name)}`;
      if (o.builtin) {
        manifest.builtin = o.builtin;
        printJson(
          await http(globals(), "PUT", path, JSON.stringify(manifest), {
            "content-type": "application/json",
          }),
        );
        return;
      }
      const form = new FormData();
      const bytes = await fileBytes("--component", o.component);
      form.set("component", new Blob([bytes as BlobPart]), "component.wasm");
      form.set("manifest", JSON.stringify(manifest));
      printJson(await http(globals(), "PUT", path, form));
    });
  return cmd;
}
