/**
 * Compiles an AssemblyScript policy into a component of world `arqon:bus/policy`: the
 * sandbox's shared guest pipeline (`runtime/sandbox/build/`) with the policy SDK and the
 * policy world's generated entry.
 * @module
 */
import {
  compileGuest,
  compileGuestCore,
  type CompileOptions,
  componentize,
  GuestCompileError,
  type GuestToolchain,
  relativeImport,
} from "../../runtime/sandbox/build/mod.ts";
import { POLICY_WORLD } from "../../wit/mod.ts";

export type { CompileOptions };

const SDK_DIR = new URL("../sdk/assembly/", import.meta.url).pathname;
const SDK_ABI = `${SDK_DIR}abi.ts`;

/** A policy source that asc rejected, with the compiler's diagnostics. */
export class PolicyCompileError extends GuestCompileError {
  /** An error with asc's diagnostics appended to `message`. */
  constructor(message: string, diagnostics: string) {
    super(message, diagnostics);
    this.name = "PolicyCompileError";
  }
}

/**
 * The generated entry file: canonical-ABI exports that convert arguments, call the author's
 * `evaluate` (and `configure` when present) and lay out the result.
 */
export function policyEntrySource(
  sourcePath: string,
  hasConfigure: boolean,
  viaPackage = false,
): string {
  const dir = sourcePath.slice(0, sourcePath.lastIndexOf("/"));
  const base = sourcePath.slice(sourcePath.lastIndexOf("/") + 1).replace(/\.ts$/, "");
  // The entry must reach the SDK the same way the policy does, or asc sees two SDKs.
  const abi = viaPackage ? "@arqon/casil/abi" : relativeImport(dir, SDK_ABI);
  const params = Array.from({ length: 12 }, (_, i) => `a${i}: usize`).join(", ");
  const ctxArgs = Array.from({ length: 10 }, (_, i) => `a${i}`).join(", ");
  return [
    `import { evaluate as userEvaluate${
      hasConfigure ? ", configure as userConfigure" : ""
    } } from "./${base}";`,
    `import { batchResult, ensureMark, readBatchContext, readBatchPayload, readBytes, readContext, readString, release, remark, storeBatchVerdict, writeResult, writeVerdict } from "${abi}";`,
    `export { cabi_realloc } from "${abi}";`,
    `export function evaluate(${params}): usize {`,
    `  ensureMark();`,
    `  return writeVerdict(userEvaluate(readContext(${ctxArgs}), readBytes(a10, a11)));`,
    `}`,
    `export function cabi_post_evaluate(ret: usize): void { release(); }`,
    // The batch side ABI: the same author's function over every pulse of a batch, in order.
    `export function evaluate_batch(list: usize, n: usize): usize {`,
    `  ensureMark();`,
    `  const ret = batchResult(n);`,
    `  for (let i: usize = 0; i < n; i++) {`,
    `    storeBatchVerdict(ret, i, userEvaluate(readBatchContext(list, i), readBatchPayload(list, i)));`,
    `  }`,
    `  return ret;`,
    `}`,
    `export function cabi_post_evaluate_batch(ret: usize): void { release(); }`,
    `export function configure(ptr: usize, len: usize): usize {`,
    `  ensureMark();`,
    hasConfigure
      ? `  return writeResult(userConfigure(readString(ptr, len)));`
      : `  readString(ptr, len); return writeResult(null);`,
    `}`,
    `export function cabi_post_configure(ret: usize): void { remark(); }`,
    ``,
  ].join("\n");
}

/** The policy world's toolchain for the shared guest pipeline. */
export const POLICY_TOOLCHAIN: GuestToolchain = {
  world: POLICY_WORLD,
  packages: { "@arqon/casil": SDK_DIR },
  entryName: "__arqon_policy_entry.ts",
  entry: (sourcePath, source) =>
    policyEntrySource(
      sourcePath,
      /export\s+function\s+configure\s*\(/.test(source),
      /from\s+["']@arqon\/casil["']/.test(source),
    ),
  compileError: (message, diagnostics) => new PolicyCompileError(message, diagnostics),
};

/** Compiles the AssemblyScript policy at `sourcePath` into a core Wasm module. */
export function compilePolicyCore(
  sourcePath: string,
  options: CompileOptions = {},
): Promise<Uint8Array> {
  return compileGuestCore(sourcePath, POLICY_TOOLCHAIN, options);
}

/** Wraps a core module into a component of world `arqon:bus/policy`. */
export function componentizePolicy(core: Uint8Array): Promise<Uint8Array> {
  return componentize(core, POLICY_WORLD);
}

/** Compiles an AssemblyScript policy source into a policy component. */
export function compilePolicy(
  sourcePath: string,
  options: CompileOptions = {},
): Promise<Uint8Array> {
  return compileGuest(sourcePath, POLICY_TOOLCHAIN, options);
}
