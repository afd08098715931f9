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
import { buildPolicyCached, POLICY_BUILD_DIR, REPO_ROOT } from "../casil/build/mod.ts";

async function sources(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    if (e.isFile && e.name.endsWith(".ts")) out.push(`${dir}/${e.name}`);
  }
  return out.sort();
}

const args = [...Deno.args];
const outIndex = args.indexOf("-o");
const out = outIndex >= 0 ? args.splice(outIndex, 2)[1] : undefined;
const targets: [string, string][] = [];
if (args.length === 0) {
  for (const s of await sources(`${REPO_ROOT}casil/policies`)) {
    targets.push([s, `${POLICY_BUILD_DIR}${s.slice(s.lastIndexOf("/") + 1, -3)}.wasm`]);
  }
  for (const s of await sources(`${REPO_ROOT}casil/testdata`)) {
    targets.push([s, `${POLICY_BUILD_DIR}testdata/${s.slice(s.lastIndexOf("/") + 1, -3)}.wasm`]);
  }
} else {
  if (out && args.length > 1) {
    console.error("policy:build: -o takes a single source");
    Deno.exit(2);
  }
  for (const s of args) targets.push([s, out ?? s.replace(/\.ts$/, "") + ".wasm"]);
}
let failed = 0;
for (const [source, target] of targets) {
  try {
    const bytes = await buildPolicyCached(source, target);
    console.log(`policy:build ${source} -> ${target} (${bytes.length} bytes)`);
  } catch (e) {
    failed++;
    console.error(`policy:build ${source}: ${e instanceof Error ? e.message : e}`);
  }
}
if (failed > 0) Deno.exit(1);
