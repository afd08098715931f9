/**
 * Builds CASIL policies (AssemblyScript) into Wasm components of world `arqon:bus/policy`.
 *
 *   deno task policy:build                      # built-ins and test policies into build/policies/
 *   deno task policy:build path/to/policy.ts    # one policy, next to its source (policy.wasm)
 *   deno task policy:build a.ts -o out.wasm
 *
 * Paths are relative to the directory the task is run from (`deno task` itself runs in the
 * repository; it passes the caller's directory in INIT_CWD). Unchanged inputs are not rebuilt.
 * @module
 */
import { POLICY_BUILD_DIR, POLICY_TOOLCHAIN, REPO_ROOT } from "../casil/build/mod.ts";
import { runGuestBuild, sourcesIn } from "../runtime/sandbox/build/mod.ts";
import { guestBuildArgs } from "./task_cli.ts";

const USAGE = `usage: deno task policy:build [<policy.ts>... | <policy.ts> -o <out.wasm>]

Builds CASIL policies written in AssemblyScript into Wasm components (world arqon:bus/policy).

  (no file)              every built-in and test policy, into build/policies/ in the repository
  <policy.ts>...         each policy into a .wasm beside its source
  -o <out.wasm>          with one source: where to write the component

Paths are relative to the directory you run the task from. Unchanged inputs are not rebuilt.
See docs/policies.md.`;

const outputs = (dir: string, sources: string[]): [string, string][] =>
  sources.map((s) => [s, `${dir}${s.slice(s.lastIndexOf("/") + 1, -3)}.wasm`]);

Deno.exit(
  await runGuestBuild("policy:build", guestBuildArgs(USAGE), POLICY_TOOLCHAIN, async () => [
    ...outputs(POLICY_BUILD_DIR, await sourcesIn(`${REPO_ROOT}casil/policies`)),
    ...outputs(`${POLICY_BUILD_DIR}testdata/`, await sourcesIn(`${REPO_ROOT}casil/testdata`)),
  ]),
);
