/**
 * Builds Tier-Ω operators (AssemblyScript) into Wasm components of world
 * `arqon:bus/operator`.
 *
 *   deno task operator:build                    # built-ins and test operators into build/operators/
 *   deno task operator:build path/to/op.ts      # one operator, next to its source (op.wasm)
 *   deno task operator:build op.ts -o op.wasm
 *
 * Unchanged inputs are not rebuilt.
 * @module
 */
import { OPERATOR_BUILD_DIR, OPERATOR_TOOLCHAIN, REPO_ROOT } from "../operators/build/mod.ts";
import { runGuestBuild, sourcesIn } from "../runtime/sandbox/build/mod.ts";

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
    Deno.args,
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
