/**
 * Builds policy components into a folder, skipping sources whose inputs are unchanged
 * (the stamp is a hash of the policy source, the SDK, the WIT package and the compiler).
 * @module
 */
import { compilePolicy } from "./compile.ts";
import { WIT_DIR } from "../../wit/mod.ts";

const SDK_DIR = new URL("../sdk/assembly/", import.meta.url).pathname;
const COMPILER = new URL("./compile.ts", import.meta.url).pathname;

async function filesIn(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) if (e.isFile) out.push(`${dir}${e.name}`);
  return out.sort();
}

async function inputsDigest(source: string): Promise<string> {
  const files = [source, COMPILER, ...await filesIn(SDK_DIR), ...await filesIn(WIT_DIR)];
  const parts: Uint8Array[] = [];
  for (const f of files) {
    parts.push(new TextEncoder().encode(f + "\0"), await Deno.readFile(f));
  }
  const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    all.set(p, at);
    at += p.length;
  }
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", all));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * The component built from AssemblyScript `source` into `outPath`, rebuilt only when its
 * inputs changed. Returns the component bytes.
 */
export async function buildPolicyCached(
  source: string,
  outPath: string,
): Promise<Uint8Array<ArrayBuffer>> {
  source = source.startsWith("/") ? source : `${Deno.cwd()}/${source}`;
  const stampPath = `${outPath}.stamp`;
  const digest = await inputsDigest(source);
  try {
    if ((await Deno.readTextFile(stampPath)).trim() === digest) return await Deno.readFile(outPath);
  } catch {
    // Not built yet.
  }
  const component = new Uint8Array(await compilePolicy(source));
  await Deno.mkdir(outPath.slice(0, outPath.lastIndexOf("/")), { recursive: true });
  // Write to a temporary name first: parallel test processes may build the same policy.
  // Each writer its own temporary names (two processes share the digest).
  const unique = crypto.randomUUID();
  const tmp = `${outPath}.${unique}.tmp`;
  await Deno.writeFile(tmp, component);
  await Deno.rename(tmp, outPath);
  await Deno.writeTextFile(`${stampPath}.${unique}.tmp`, digest);
  await Deno.rename(`${stampPath}.${unique}.tmp`, stampPath);
  return component;
}

/** Repository root. */
export const REPO_ROOT: string = new URL("../../", import.meta.url).pathname;

/** Where the build puts policy components. */
export const POLICY_BUILD_DIR: string = `${REPO_ROOT}build/policies/`;

/** The built component of a policy shipped in `casil/policies/` (built if needed). */
export function builtinPolicyComponent(name: string): Promise<Uint8Array<ArrayBuffer>> {
  return buildPolicyCached(
    `${REPO_ROOT}casil/policies/${name}.ts`,
    `${POLICY_BUILD_DIR}${name}.wasm`,
  );
}

/** The built component of a test policy in `casil/testdata/` (built if needed). */
export function testPolicyComponent(name: string): Promise<Uint8Array<ArrayBuffer>> {
  return buildPolicyCached(
    `${REPO_ROOT}casil/testdata/${name}.ts`,
    `${POLICY_BUILD_DIR}testdata/${name}.wasm`,
  );
}
