/**
 * The `arqon` command-line client: `pub`, `sub`, `req`, `reply`, `history` over the
 * WebSocket protocol (our TypeScript client), and `realities`, `policies`, `operators`,
 * `token` over the HTTP API, plus `bench`. Run it with `deno task arqon <command>`, or
 * install it (see docs/cli.md).
 *
 * @example
 * ```ts ignore
 * import { runCli } from "./cli/mod.ts";
 * Deno.exit(await runCli(["pub", "orders.created", "{}", "--server", "ws://127.0.0.1:7420/v1/ws"]));
 * ```
 * @module
 */
import { Command, CommanderError, Option } from "commander";
import { DEFAULT_SERVER, EXIT, type GlobalOptions, report } from "./common.ts";
import { pubCommand } from "./pub.ts";
import { subCommand } from "./sub.ts";
import { reqCommand } from "./req.ts";
import { replyCommand } from "./reply.ts";
import { historyCommand } from "./history.ts";
import { realitiesCommand } from "./realities.ts";
import { policiesCommand } from "./policies.ts";
import { operatorsCommand } from "./operators.ts";
import { tokenCommand } from "./token.ts";
import { benchCommand } from "./bench.ts";

export { EXIT } from "./common.ts";

/** Builds the program; `globals` reads `--server`/`--token` once parsed. */
function program(): Command {
  const root = new Command("arqon")
    .description("Command-line client for ArqonBus nodes.")
    .addOption(
      new Option("--server <url>", "node WebSocket URL (HTTP base derived from it)")
        .env("ARQON_SERVER").default(DEFAULT_SERVER),
    )
    .addOption(new Option("--token <token>", "bearer token").env("ARQON_TOKEN"))
    .showHelpAfterError("(add --help for usage)")
    .enablePositionalOptions(false)
    .addHelpText(
      "after",
      `
Exit codes: 0 ok, 1 usage error, 2 the node refused (typed error), 3 connection failed,
4 timeout. Global options go before or after the command: arqon --server ws://h:7420 sub 'a.>'`,
    );
  const globals = (): GlobalOptions => {
    const o = root.opts();
    return { server: o.server ?? DEFAULT_SERVER, token: o.token ?? "" };
  };
  for (
    const make of [
      pubCommand,
      subCommand,
      reqCommand,
      replyCommand,
      historyCommand,
      realitiesCommand,
      policiesCommand,
      operatorsCommand,
      tokenCommand,
      benchCommand,
    ]
  ) {
    const cmd = make(globals);
    // Global options are accepted after the command too (`arqon pub t x --server ...`).
    copyGlobals(cmd);
    root.addCommand(cmd);
  }
  exitOverrideAll(root);
  widenHelp(root);
  return root;
}

/** Help laid out for 100 columns (commander's 80 when not on a terminal wraps every line). */
function widenHelp(cmd: Command): void {
  cmd.configureHelp({ helpWidth: 100 });
  for (const sub of cmd.commands) widenHelp(sub);
}

/** Lets `--server` and `--token` follow a (sub)command, and feeds them to the root. */
function copyGlobals(cmd: Command): void {
  cmd.option("--server <url>", "node WebSocket URL (see arqon --help)");
  cmd.option("--token <token>", "bearer token (see arqon --help)");
  cmd.hook("preAction", (_self, action) => {
    const root = rootOf(action);
    for (const c of [cmd, action]) {
      const o = c.opts();
      if (o.server !== undefined) root.setOptionValue("server", o.server);
      if (o.token !== undefined) root.setOptionValue("token", o.token);
    }
  });
  for (const sub of cmd.commands) copyGlobals(sub);
}

function rootOf(cmd: Command): Command {
  let c = cmd;
  while (c.parent) c = c.parent;
  return c;
}

/** Commander throws instead of exiting, so runCli owns the exit code. */
function exitOverrideAll(cmd: Command): void {
  cmd.exitOverride();
  for (const sub of cmd.commands) exitOverrideAll(sub);
}

/**
 * Runs `arqon` with `args` (without the program name) and resolves with the exit code:
 * 0 ok, 1 usage, 2 refused by the node, 3 connection failed, 4 timeout.
 */
export async function runCli(args: string[]): Promise<number> {
  const root = program();
  if (args.length === 0) {
    root.outputHelp();
    return EXIT.USAGE;
  }
  try {
    await root.parseAsync(args, { from: "user" });
    return EXIT.OK;
  } catch (e) {
    if (e instanceof CommanderError) {
      // Help and version are "errors" with exit code 0; the rest are usage errors.
      return e.exitCode === 0 ? EXIT.OK : EXIT.USAGE;
    }
    return report(e);
  }
}
