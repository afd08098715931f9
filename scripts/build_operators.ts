/**
 * Builds Tier-Ω operators (AssemblyScript) into Wasm components of world
 * `arqon:bus/operator`.
 *
 *   deno task operator:build                    # built-ins and test operators into build/operators/
 *   deno task operator:build path/to/op.ts      # one operator, next to its source (op.wasm)
 *   deno task operator:build op.ts -o op.wasm
 *
 * Paths are relative to the directory the task is run from (`deno task` itself runs in the
 * repository; it passes the caller's directory in INIT_CWD). Unchanged inputs are not rebuilt.
 * @module
 */
import { OPERATOR_BUILD_DIR, OPERATOR_TOOLCHAIN, REPO_ROOT } from "../operators/build/mod.ts";
import { runGuestBuild, sourcesIn } from "../runtime/sandbox/build/mod.ts";
import { guestBuildArgs } from "./task_cli.ts";

const USAGE = `usage: deno task operator:build [<operator.ts>... | <operator.ts> -o <out.wasm>]

Builds Tier-Ω operators written in AssemblyScript into Wasm components (world
arqon:bus/operator).

  (no file)              every built-in and test operator, into build/operators/ in the repository
  <operator.ts>...       each operator into a .wasm beside its source
  -o <out.wasm>          with one source: where to write the component

Paths are relative to the directory you run the task from. Unchanged inputs are not rebuilt.
See docs/operators.md.`;

/** `[name, source]` of every built-in with an `assembly/operator.ts`. */
async function builtinSources(): Promise<[string, string][]> {
  const out: [string, string][] = [];
  for await (const e of Deno.readDir(`${REPO_ROOT}operators/builtin`)) {
    const source = `${REPO_ROOT}operators/builtin/${e.name}/assembly/operator.ts`;
    if (e.isDirectory && await Deno.stat(source).then(() => true, () => false)) {
      out.push([e.name, source]);
    }
  }
  return out.sort();
}

Deno.exit(
  await runGuestBuild(
    "operator:build",
    guestBuildArgs(USAGE),
    OPERATOR_TOOLCHAIN,
    async () => [
      // Each shipped operator: operators/builtin/<name>/assembly/operator.ts -> builtin/<name>.wasm.
      ...(await builtinSources()).map(([name, s]) =>
        [s, `${OPERATOR_BUILD_DIR}builtin/${name}.wasm`] as [string, string]
      ),
      ...(await sourcesIn(`${REPO_ROOT}operators/testdata`)).map((s) =>
        [s, `${OPERATOR_BUILD_DIR}testdata/${s.slice(s.lastIndexOf("/") + 1, -3)}.wasm`] as [
          string,
          string,
        ]
      ),
    ],
  ),
);
