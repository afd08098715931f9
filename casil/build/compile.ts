/**
 * Compiles an AssemblyScript policy into a component of world `arqon:bus/policy`:
 * asc (stub runtime, no abort import) into a core module, then jco's `componentEmbed` +
 * `componentNew`.
 * @module
 */
import { BusError } from "../../runtime/protocol/mod.ts";
import { POLICY_WORLD, WIT_DIR } from "../../wit/mod.ts";

const SDK_DIR = new URL("../sdk/assembly/", import.meta.url).pathname;
const SDK_ABI = `${SDK_DIR}abi.ts`;
/** Where asc looks for the package `@arqon/casil`: mapped onto `casil/sdk/assembly/`. */
const SDK_PACKAGE_PATH = /(?:^|\/)node_modules\/@arqon\/casil\/([a-z_]+\.ts)$/;
const ENTRY_NAME = "__arqon_policy_entry.ts";

/** A policy source that asc rejected, with the compiler's diagnostics. */
export class PolicyCompileError extends BusError {
  /** The compiler's diagnostics. */
  readonly diagnostics: string;
  /** An error with asc's diagnostics appended to `message`. */
  constructor(message: string, diagnostics: string) {
    super("INVALID_ARGUMENT", `${message}\n${diagnostics}`);
    this.name = "PolicyCompileError";
    this.diagnostics = diagnostics;
  }
}

/** Options of {@linkcode compilePolicy}. */
export interface CompileOptions {
  /** Optimisation level passed to asc (`-O<n>`); 3 unless given. */
  optimizeLevel?: number;
}

function relativeImport(fromDir: string, target: string): string {
  const from = fromDir.split("/").filter(Boolean);
  const to = target.replace(/\.ts$/, "").split("/").filter(Boolean);
  let common = 0;
  while (common < from.length && common < to.length && from[common] === to[common]) common++;
  const ups = from.length - common;
  const rest = to.slice(common).join("/");
  return (ups === 0 ? "./" : "../".repeat(ups)) + rest;
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
    `import { ensureMark, readBytes, readContext, readString, release, remark, writeResult, writeVerdict } from "${abi}";`,
    `export { cabi_realloc } from "${abi}";`,
    `export function evaluate(${params}): usize {`,
    `  ensureMark();`,
    `  return writeVerdict(userEvaluate(readContext(${ctxArgs}), readBytes(a10, a11)));`,
    `}`,
    `export function cabi_post_evaluate(ret: usize): void { release(); }`,
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

/** Compiles the AssemblyScript policy at `sourcePath` into a core Wasm module. */
export async function compilePolicyCore(
  sourcePath: string,
  options: CompileOptions = {},
): Promise<Uint8Array> {
  sourcePath = sourcePath.startsWith("/") ? sourcePath : `${Deno.cwd()}/${sourcePath}`;
  const source = await Deno.readTextFile(sourcePath);
  const hasConfigure = /export\s+function\s+configure\s*\(/.test(source);
  const dir = sourcePath.slice(0, sourcePath.lastIndexOf("/"));
  const entryPath = `${dir}/${ENTRY_NAME}`;
  const viaPackage = /from\s+["']@arqon\/casil["']/.test(source);
  const entry = policyEntrySource(sourcePath, hasConfigure, viaPackage);
  // Loaded on demand: the node imports this module but compiles only when asked to.
  const { default: asc } = await import("assemblyscript/asc");
  let binary: Uint8Array | undefined;
  let diagnostics = "";
  const { error } = await asc.main([
    entryPath,
    "--runtime",
    "stub",
    "--use",
    "abort=",
    // SIMD lets scanning policies look at 16 bytes per step (V8 and the sandbox allow it).
    "--enable",
    "simd",
    `-O${options.optimizeLevel ?? 3}`,
    "--outFile",
    "policy.wasm",
  ], {
    readFile(name: string, baseDir: string) {
      const full = name.startsWith("/") ? name : `${baseDir}/${name}`;
      if (full.endsWith(`/${ENTRY_NAME}`)) return entry;
      // `import … from "@arqon/casil"` resolves to the SDK, wherever the policy lives.
      const sdk = full.match(SDK_PACKAGE_PATH);
      if (sdk) {
        try {
          return Deno.readTextFileSync(`${SDK_DIR}${sdk[1]}`);
        } catch {
          return null;
        }
      }
      try {
        return Deno.readTextFileSync(full);
      } catch {
        return null;
      }
    },
    writeFile(name: string, contents: Uint8Array | string) {
      if (name.endsWith(".wasm") && contents instanceof Uint8Array) binary = contents;
    },
    listFiles() {
      return [];
    },
    stdout: { write: (s: string | Uint8Array) => (diagnostics += String(s), true) } as never,
    stderr: {
      write: (s: string | Uint8Array) => {
        diagnostics += typeof s === "string" ? s : new TextDecoder().decode(s);
        return true;
      },
    } as never,
  });
  if (error || !binary) {
    throw new PolicyCompileError(
      `asc failed on ${sourcePath}: ${error?.message ?? "no output"}`,
      diagnostics,
    );
  }
  return binary;
}

/** Wraps a core module into a component of world `arqon:bus/policy`. */
export async function componentizePolicy(core: Uint8Array): Promise<Uint8Array> {
  const { componentEmbed, componentNew } = await import(
    "@bytecodealliance/jco-transpile/wasm-tools"
  );
  const embedded = await componentEmbed({
    binary: core,
    witPath: WIT_DIR,
    world: POLICY_WORLD,
    stringEncoding: "utf8",
  });
  return await componentNew(embedded);
}

/** Compiles an AssemblyScript policy source into a policy component. */
export async function compilePolicy(
  sourcePath: string,
  options: CompileOptions = {},
): Promise<Uint8Array> {
  return await componentizePolicy(await compilePolicyCore(sourcePath, options));
}
