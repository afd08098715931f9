/**
 * `arqon token`: asks a node to issue a token (`POST /v1/tokens`, admin only).
 * @module
 */
import { Command } from "commander";
import { collect, type GlobalOptions, http, intOption } from "./common.ts";

/** The `token` command. */
export function tokenCommand(globals: () => GlobalOptions): Command {
  return new Command("token")
    .description("Issue a token from the node's key (POST /v1/tokens; needs an admin --token).")
    .requiredOption("-s, --subject <name>", "who the token is for")
    .option("--reality <name>", "a reality it may use (repeatable)", collect)
    .option("--publish <pattern>", "a topic pattern it may publish to (repeatable)", collect)
    .option(
      "--subscribe <pattern>",
      "a topic pattern it may subscribe to (repeatable)",
      collect,
      [],
    )
    .option("--role <role>", "a role, e.g. admin or operator (repeatable)", collect)
    .option("--ttl <seconds>", "lifetime in seconds (default: the node's)")
    .option("--json", 'print {"token": ...} instead of the bare token')
    .addHelpText(
      "after",
      `
Example:
  ARQON_TOKEN=$ADMIN arqon token --subject sensor-7 --publish 'sensor.7.>' --ttl 86400`,
    )
    .action(async (o) => {
      const body: Record<string, unknown> = { subject: o.subject };
      if ((o.reality ?? []).length) body.realities = o.reality;
      if ((o.publish ?? []).length) body.publish = o.publish;
      if ((o.subscribe ?? []).length) body.subscribe = o.subscribe;
      if ((o.role ?? []).length) body.roles = o.role;
      const ttl = intOption("--ttl", o.ttl, 1);
      if (ttl !== undefined) body.ttlSeconds = ttl;
      const res = await http(globals(), "POST", "/v1/tokens", JSON.stringify(body), {
        "content-type": "application/json",
      }) as { token: string };
      console.log(o.json ? JSON.stringify(res) : res.token);
    });
}
