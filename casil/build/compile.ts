/**
 * Compiles an AssemblyScript policy into a component of world `arqon:bus/policy`:
 * asc (stub runtime, no abort import) into a core module, then jco's `componentEmbed` +
 * `componentNew`.
 * @module
 */
import { POLICY_WORLD, WIT_DIR } from "../../wit/mod.ts";

const SDK_ABI = new URL("../sdk/assembly/abi.ts", import.meta.url).pathname;
const ENTRY_NAME = "__arqon_policy_entry.ts";

/** A policy source that asc rejected, with the compiler's diagnostics. */
export class PolicyCompileError extends Error {
  /** The compiler's diagnostics. */
  readonly diagnostics: string;
  constructor(message: string, diagnostics: string) {
    super(`${message}\n${diagnostics}`);
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
): string {
  const dir = sourcePath.slice(0, sourcePath.lastIndexOf("/"));
  const base = sourcePath.slice(sourcePath.lastIndexOf("/") + 1).replace(/\.ts$/, "");
  const abi = relativeImport(dir, SDK_ABI);
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
  const entry = policyEntrySource(sourcePath, hasConfigure);
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
