/**
 * Building AssemblyScript operators into components of world `arqon:bus/operator`: the
 * sandbox's shared guest pipeline with the operator SDK (`@arqon/operator`, which builds on
 * the policy SDK's `@arqon/casil` files) and the operator world's generated entry.
 * @module
 */
import {
  buildGuestCached,
  compileGuest,
  type CompileOptions,
  type GuestToolchain,
} from "../../runtime/sandbox/build/mod.ts";
import { OPERATOR_WORLD } from "../../wit/mod.ts";

/** Repository root. */
export const REPO_ROOT: string = new URL("../../", import.meta.url).pathname;
const OPERATOR_SDK_DIR = `${REPO_ROOT}operators/sdk/assembly/`;
const CASIL_SDK_DIR = `${REPO_ROOT}casil/sdk/assembly/`;

/** Where the build puts operator components. */
export const OPERATOR_BUILD_DIR: string = `${REPO_ROOT}build/operators/`;

const exported = (source: string, name: string) =>
  new RegExp(`export\\s+function\\s+${name}\\s*\\(`).test(source);

/**
 * The generated entry: canonical-ABI exports that convert arguments, call the author's
 * `handle` (and `init`, `onControl` when present) and lay out the results.
 */
export function operatorEntrySource(sourcePath: string, source: string): string {
  const base = sourcePath.slice(sourcePath.lastIndexOf("/") + 1).replace(/\.ts$/, "");
  const hasInit = exported(source, "init");
  const hasControl = exported(source, "onControl");
  const names = ["handle as userHandle"];
  if (hasInit) names.push("init as userInit");
  if (hasControl) names.push("onControl as userOnControl");
  return [
    `import { ${names.join(", ")} } from "./${base}";`,
    `import { ensureMark, readString, release, remark, writeResult } from "@arqon/casil/abi";`,
    `import { readParams, readPulse, setConfig, writePulses } from "@arqon/operator/abi";`,
    `export { cabi_realloc } from "@arqon/casil/abi";`,
    // The pulse is passed in memory: it flattens to more than 16 core values.
    `export function handle(pulse: usize): usize {`,
    `  ensureMark();`,
    `  return writePulses(userHandle(readPulse(pulse)));`,
    `}`,
    `export function cabi_post_handle(ret: usize): void { release(); }`,
    `export function init(ptr: usize, len: usize): usize {`,
    `  ensureMark();`,
    `  const text = readString(ptr, len);`,
    `  setConfig(text);`,
    hasInit ? `  return writeResult(userInit(text));` : `  return writeResult(null);`,
    `}`,
    `export function cabi_post_init(ret: usize): void { remark(); }`,
    `export function on_control(ptr: usize, len: usize): usize {`,
    `  ensureMark();`,
    hasControl
      ? `  return writeResult(userOnControl(readParams(ptr, len)));`
      : `  return writeResult(null);`,
    `}`,
    `export function cabi_post_on_control(ret: usize): void { release(); }`,
    ``,
  ].join("\n");
}

/** The operator world's toolchain for the shared guest pipeline. */
export const OPERATOR_TOOLCHAIN: GuestToolchain = {
  world: OPERATOR_WORLD,
  packages: { "@arqon/operator": OPERATOR_SDK_DIR, "@arqon/casil": CASIL_SDK_DIR },
  entryName: "__arqon_operator_entry.ts",
  entry: operatorEntrySource,
  exportNames: { "on_control": "on-control", "cabi_post_on_control": "cabi_post_on-control" },
};

/** Compiles an AssemblyScript operator source into an operator component. */
export function compileOperator(
  sourcePath: string,
  options: CompileOptions = {},
): Promise<Uint8Array> {
  return compileGuest(sourcePath, OPERATOR_TOOLCHAIN, options);
}

/** The component built from `source` into `outPath`, rebuilt only when its inputs changed. */
export function buildOperatorCached(
  source: string,
  outPath: string,
): Promise<Uint8Array<ArrayBuffer>> {
  return buildGuestCached(source, outPath, OPERATOR_TOOLCHAIN);
}

/** The built component of a test operator in `operators/testdata/` (built if needed). */
export function testOperatorComponent(name: string): Promise<Uint8Array<ArrayBuffer>> {
  return buildOperatorCached(
    `${REPO_ROOT}operators/testdata/${name}.ts`,
    `${OPERATOR_BUILD_DIR}testdata/${name}.wasm`,
  );
}
