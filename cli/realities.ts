/**
 * `arqon realities list|get|create|delete`: the realities of a node with a store.
 * @module
 */
import { Command } from "commander";
import { type GlobalOptions, http, printJson } from "./common.ts";
import { jsonArg, seg } from "./admin_util.ts";

/** The `realities` command. */
export function realitiesCommand(globals: () => GlobalOptions): Command {
  const cmd = new Command("realities")
    .description("List, show, create or delete realities (needs a node with a store).");
  cmd.command("list").description("List the realities with their configuration.")
    .action(async () => printJson(await http(globals(), "GET", "/v1/realities")));
  cmd.command("get").description("Show one reality's configuration.")
    .argument("<name>", "reality name")
    .action(async (name: string) =>
      printJson(await http(globals(), "GET", `/v1/realities/${seg(name)}`))
    );
  cmd.command("create").description("Create a reality, or replace its configuration.")
    .argument("<name>", "reality name")
    .option(
      "--retain <pattern>",
      "keep the pulses of this topic pattern (a retention rule with no limits)",
    )
    .option("--config <json>", "the configuration {retention, limits, description}, or @file")
    .addHelpText(
      "after",
      `
Example:
  arqon realities create lab --retain 'sensor.>'
  arqon realities create lab --config '{"retention":[{"pattern":">","maxPulses":1000}]}'`,
    )
    .action(async (name: string, o) => {
      const config = o.config ? await jsonArg("--config", o.config) : {};
      if (o.retain) {
        const rules = Array.isArray(config.retention) ? config.retention : [];
        config.retention = [...rules, { pattern: o.retain }];
      }
      printJson(
        await http(globals(), "PUT", `/v1/realities/${seg(name)}`, JSON.stringify(config), {
          "content-type": "application/json",
        }),
      );
    });
  cmd.command("delete").description("Delete a reality and its stored pulses.")
    .argument("<name>", "reality name")
    .action(async (name: string) => {
      await http(globals(), "DELETE", `/v1/realities/${seg(name)}`);
      console.log(`deleted reality ${name}`);
    });
  return cmd;
}
