/**
 * Builds the `harmonics` operator component from `assembly/`. The shared guest cache stamps
 * only the entry source, so this one hashes every file of `assembly/` into the output's name:
 * editing `program.ts` or `asm.ts` rebuilds it.
 * @module
 */
import { compileOperator, OPERATOR_BUILD_DIR } from "../../build/mod.ts";

const ASSEMBLY_DIR = new URL("./assembly/", import.meta.url).pathname;
/** The operator's AssemblyScript entry. */
export const HARMONICS_SOURCE: string = `${ASSEMBLY_DIR}operator.ts`;

async function digest(): Promise<string> {
  const names: string[] = [];
  for await (const e of Deno.readDir(ASSEMBLY_DIR)) {
    if (e.isFile && e.name.endsWith(".ts")) names.push(e.name);
  }
  const parts: string[] = [];
  for (const n of names.sort()) parts.push(n, await Deno.readTextFile(`${ASSEMBLY_DIR}${n}`));
  // The SDK and the compiler are inputs too.
  for (const dir of ["../../sdk/assembly/", "../../../casil/sdk/assembly/"]) {
    const d = new URL(dir, import.meta.url).pathname;
    const files: string[] = [];
    for await (const e of Deno.readDir(d)) if (e.isFile) files.push(e.name);
    for (const n of files.sort()) parts.push(n, await Deno.readTextFile(`${d}${n}`));
  }
  const bytes = new TextEncoder().encode(parts.join("\0"));
  const hash = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return Array.from(hash.subarray(0, 8), (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * The `harmonics` component, built into `build/operators/harmonics/` when its sources changed
 * (`deno task build` also builds it into `build/operators/builtin/harmonics.wasm` for
 * `{"builtin": "harmonics"}` installs).
 *
 * @example
 * ```ts ignore
 * const component = await buildHarmonics();
 * ```
 */
export async function buildHarmonics(): Promise<Uint8Array<ArrayBuffer>> {
  const out = `${OPERATOR_BUILD_DIR}harmonics/${await digest()}.wasm`;
  try {
    return await Deno.readFile(out);
  } catch {
    // Not built yet.
  }
  const component = new Uint8Array(await compileOperator(HARMONICS_SOURCE));
  await Deno.mkdir(`${OPERATOR_BUILD_DIR}harmonics`, { recursive: true });
  // Parallel test processes may build it at once: each writes its own file, then renames.
  const tmp = `${out}.${crypto.randomUUID()}.tmp`;
  await Deno.writeFile(tmp, component);
  await Deno.rename(tmp, out);
  return component;
}
