/**
 * Builds Tier-Ω operators (AssemblyScript) into Wasm components of world
 * `arqon:bus/operator`.
 *
 *   deno task operator:build                    # test operators into build/operators/
 *   deno task operator:build path/to/op.ts      # one operator, next to its source (op.wasm)
 *   deno task operator:build op.ts -o op.wasm
 *
 * Unchanged inputs are not rebuilt.
 * @module
 */
import { OPERATOR_BUILD_DIR, OPERATOR_TOOLCHAIN, REPO_ROOT } from "../operators/build/mod.ts";
import { runGuestBuild, sourcesIn } from "../runtime/sandbox/build/mod.ts";

Deno.exit(
  await runGuestBuild(
    "operator:build",
    Deno.args,
    OPERATOR_TOOLCHAIN,
    async () =>
      (await sourcesIn(`${REPO_ROOT}operators/testdata`)).map((s) => [
        s,
        `${OPERATOR_BUILD_DIR}testdata/${s.slice(s.lastIndexOf("/") + 1, -3)}.wasm`,
      ]),
  ),
);
