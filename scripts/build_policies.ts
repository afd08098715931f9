/**
 * Builds CASIL policies (AssemblyScript) into Wasm components of world `arqon:bus/policy`.
 *
 *   deno task policy:build                      # built-ins and test policies into build/policies/
 *   deno task policy:build path/to/policy.ts    # one policy, next to its source (policy.wasm)
 *   deno task policy:build a.ts -o out.wasm
 *
 * Unchanged inputs are not rebuilt.
 * @module
 */
import { POLICY_BUILD_DIR, POLICY_TOOLCHAIN, REPO_ROOT } from "../casil/build/mod.ts";
import { runGuestBuild, sourcesIn } from "../runtime/sandbox/build/mod.ts";

const outputs = (dir: string, sources: string[]): [string, string][] =>
  sources.map((s) => [s, `${dir}${s.slice(s.lastIndexOf("/") + 1, -3)}.wasm`]);

Deno.exit(
  await runGuestBuild("policy:build", Deno.args, POLICY_TOOLCHAIN, async () => [
    ...outputs(POLICY_BUILD_DIR, await sourcesIn(`${REPO_ROOT}casil/policies`)),
    ...outputs(`${POLICY_BUILD_DIR}testdata/`, await sourcesIn(`${REPO_ROOT}casil/testdata`)),
  ]),
);
