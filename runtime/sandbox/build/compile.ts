/**
 * The compile pipeline every AssemblyScript guest shares, whatever its world: asc (stub
 * runtime, no abort import, SIMD) on a generated entry file that wraps the author's source,
 * with the world's SDK packages mapped onto their folders, then jco's `componentEmbed` +
 * `componentNew` against the package in `wit/`. A world's build (CASIL's `policy:build`,
 * the operators' `operator:build`) supplies only its {@linkcode GuestToolchain}.
 * @module
 */
import { BusError } from "../../protocol/mod.ts";
import { WIT_DIR } from "../../../wit/mod.ts";

/** A guest source that asc rejected, with the compiler's diagnostics. */
export class GuestCompileError extends BusError {
  /** The compiler's diagnostics. */
  readonly diagnostics: string;
  /** An error with asc's diagnostics appended to `message`. */
  constructor(message: string, diagnostics: string) {
    super("INVALID_ARGUMENT", `${message}\n${diagnostics}`);
    this.name = "GuestCompileError";
    this.diagnostics = diagnostics;
  }
}

/** What a world's build adds to the shared pipeline. */
export interface GuestToolchain {
  /** The WIT world the component targets, e.g. `policy`. */
  readonly world: string;
  /**
   * AssemblyScript packages by name (e.g. `@arqon/casil`) and the folder (absolute, with a
   * trailing `/`) their files live in: `import … from "@arqon/casil"` finds the SDK
   * wherever the guest's source lives.
   */
  readonly packages: Readonly<Record<string, string>>;
  /** File name of the generated entry, written beside the source (virtually). */
  readonly entryName: string;
  /** The generated entry's text for the source at `sourcePath` whose text is `source`. */
  entry(sourcePath: string, source: string): string;
  /**
   * Core exports to rename after compiling, from the AssemblyScript name to the world's
   * (AssemblyScript names cannot hold a `-`, as in `on-control`).
   * @default {}
   */
  readonly exportNames?: Readonly<Record<string, string>>;
  /** The error to throw when asc fails (a world keeps its own error class). */
  compileError?(message: string, diagnostics: string): Error;
}

/** Options of {@linkcode compileGuest}. */
export interface CompileOptions {
  /**
   * Optimisation level passed to asc (`-O<n>`).
   * @default 3
   */
  optimizeLevel?: number;
}

/** `target` as an import path relative to the folder `fromDir` (both absolute). */
export function relativeImport(fromDir: string, target: string): string {
  const from = fromDir.split("/").filter(Boolean);
  const to = target.replace(/\.ts$/, "").split("/").filter(Boolean);
  let common = 0;
  while (common < from.length && common < to.length && from[common] === to[common]) common++;
  const ups = from.length - common;
  const rest = to.slice(common).join("/");
  return (ups === 0 ? "./" : "../".repeat(ups)) + rest;
}

/** The source's path made absolute (relative to the working directory). */
export function absoluteSource(sourcePath: string): string {
  return sourcePath.startsWith("/") ? sourcePath : `${Deno.cwd()}/${sourcePath}`;
}

/** The real path of a file asc asks for under `node_modules/<package>/`, or undefined. */
function packageFile(full: string, packages: Readonly<Record<string, string>>): string | undefined {
  for (const [name, dir] of Object.entries(packages)) {
    const marker = `node_modules/${name}/`;
    const at = full.lastIndexOf(marker);
    if (at < 0 || (at > 0 && full[at - 1] !== "/")) continue;
    const rest = full.slice(at + marker.length);
    if (/^[a-z_]+\.ts$/.test(rest)) return `${dir}${rest}`;
  }
  return undefined;
}

/** Compiles the AssemblyScript guest at `sourcePath` into a core Wasm module. */
export async function compileGuestCore(
  sourcePath: string,
  toolchain: GuestToolchain,
  options: CompileOptions = {},
): Promise<Uint8Array> {
  sourcePath = absoluteSource(sourcePath);
  const source = await Deno.readTextFile(sourcePath);
  const dir = sourcePath.slice(0, sourcePath.lastIndexOf("/"));
  const entryPath = `${dir}/${toolchain.entryName}`;
  const entry = toolchain.entry(sourcePath, source);
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
    // SIMD lets scanning guests look at 16 bytes per step (V8 and the sandbox allow it).
    "--enable",
    "simd",
    `-O${options.optimizeLevel ?? 3}`,
    "--outFile",
    "guest.wasm",
  ], {
    readFile(name: string, baseDir: string) {
      const full = name.startsWith("/") ? name : `${baseDir}/${name}`;
      if (full.endsWith(`/${toolchain.entryName}`)) return entry;
      const real = packageFile(full, toolchain.packages) ?? full;
      try {
        return Deno.readTextFileSync(real);
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
    const message = `asc failed on ${sourcePath}: ${error?.message ?? "no output"}`;
    throw toolchain.compileError?.(message, diagnostics) ??
      new GuestCompileError(message, diagnostics);
  }
  return toolchain.exportNames ? await renameExports(binary, toolchain.exportNames) : binary;
}

/** `core` with its exports renamed per `names` (AssemblyScript name to world name). */
async function renameExports(
  core: Uint8Array,
  names: Readonly<Record<string, string>>,
): Promise<Uint8Array> {
  const { default: binaryen } = await import("binaryen");
  const mod = binaryen.readBinary(core);
  try {
    for (const [from, to] of Object.entries(names)) {
      const ref = mod.getExport(from);
      if (!ref) continue;
      const info = binaryen.getExportInfo(ref);
      mod.removeExport(from);
      mod.addFunctionExport(info.value, to);
    }
    return mod.emitBinary();
  } finally {
    mod.dispose();
  }
}

/** Wraps a core module into a component of `world` of the package in `wit/`. */
export async function componentize(core: Uint8Array, world: string): Promise<Uint8Array> {
  const { componentEmbed, componentNew } = await import(
    "@bytecodealliance/jco-transpile/wasm-tools"
  );
  const embedded = await componentEmbed({
    binary: core,
    witPath: WIT_DIR,
    world,
    stringEncoding: "utf8",
  });
  return await componentNew(embedded);
}

/** Compiles an AssemblyScript guest into a component of the toolchain's world. */
export async function compileGuest(
  sourcePath: string,
  toolchain: GuestToolchain,
  options: CompileOptions = {},
): Promise<Uint8Array> {
  return await componentize(
    await compileGuestCore(sourcePath, toolchain, options),
    toolchain.world,
  );
}
