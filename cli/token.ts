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
    .option(
      "--deny-publish <pattern>",
      "a topic pattern it may not publish to (repeatable)",
      collect,
    )
    .option("--deny-subscribe <pattern>", "a pattern it may not subscribe to (repeatable)", collect)
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
      body.publish = rules(o.publish, o.denyPublish);
      body.subscribe = rules(o.subscribe, o.denySubscribe);
      if ((o.role ?? []).length) body.roles = o.role;
      const ttl = intOption("--ttl", o.ttl, 1);
      if (ttl !== undefined) body.ttlSeconds = ttl;
      const res = await http(globals(), "POST", "/v1/tokens", JSON.stringify(body), {
        "content-type": "application/json",
      }) as { token: string };
      console.log(o.json ? JSON.stringify(res) : res.token);
    });
}

/** Allow and deny lists as the node's grants take them (`{allow, deny}`); absent: no rule. */
function rules(allow?: string[], deny?: string[]): Record<string, string[]> | undefined {
  if (!allow?.length && !deny?.length) return undefined;
  return { ...(allow?.length ? { allow } : {}), ...(deny?.length ? { deny } : {}) };
}
