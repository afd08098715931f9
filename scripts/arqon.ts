/**
 * `deno task arqon <command>`: the ArqonBus command-line client (code in `cli/`).
 *
 *   deno task arqon pub orders.created '{"id":1}'
 *   deno task arqon --help
 * @module
 */
import { runCli } from "../cli/mod.ts";

// `deno task` runs in the repository root; paths on the command line (`--component op.wasm`)
// are relative to where the user typed it.
const initCwd = Deno.env.get("INIT_CWD");
if (initCwd) Deno.chdir(initCwd);
Deno.exit(await runCli(Deno.args));
