/**
 * Worlds as signature tables: what a guest must export and may import, at the component level
 * (WIT lines as `componentWit` prints them) and at the core level (the lowered signatures an
 * adapter calls). The sandbox checks every guest against one {@linkcode WorldSpec}; the
 * adapters (CASIL's policy world, the operator world) each declare theirs, so nothing here
 * knows a particular world.
 * @module
 */

/** A core Wasm value type. */
export type ValType = "i32" | "i64" | "f32" | "f64";

/** A core function signature. */
export interface Signature {
  /** Parameter types, in order. */
  readonly params: readonly ValType[];
  /** Result types, in order (empty for none). */
  readonly results: readonly ValType[];
}

/** One export a world requires of the guest's core module. */
export interface ExportSpec {
  /**
   * The export's type as `componentWit` prints it in the world, e.g.
   * `func(config: string) -> result<_, string>`; absent for core-only exports (the canonical
   * ABI's helpers such as `cabi_realloc`).
   */
  readonly wit?: string;
  /** Its core signature (after canonical-ABI lowering). */
  readonly core: Signature;
  /**
   * Whether the guest may leave it out.
   * @default false
   */
  readonly optional?: boolean;
}

/**
 * A world as a signature table. Plain data (it crosses to the instrumenter worker), and the
 * cache key of modules checked against it.
 */
export interface WorldSpec {
  /** The WIT package, with version, e.g. `arqon:bus@0.1.0`. */
  readonly package: string;
  /** The world's name in that package, e.g. `policy`. */
  readonly world: string;
  /** The exports the guest must have, by name. */
  readonly exports: Readonly<Record<string, ExportSpec>>;
  /** The host functions the guest may import: by core import module, then name. */
  readonly imports: Readonly<Record<string, Readonly<Record<string, Signature>>>>;
  /**
   * Interfaces a component may import without functions of its own (e.g. a types
   * interface), besides the modules of `imports`.
   * @default []
   */
  readonly typeImports?: readonly string[];
  /** The world's `use` lines as `componentWit` prints them (required when it exports). */
  readonly uses?: readonly string[];
  /** The export that tells the guest's main core module from the adapter modules of a component. */
  readonly entry: string;
  /** How to make a component from a bare core module, named when one is given instead. */
  readonly buildHint?: string;
}

/** One host function an adapter supplies, with the signature it implements. */
export interface HostFunction {
  /** The core signature; must equal the world's for this import. */
  readonly signature: Signature;
  /** The implementation (receives and returns core values: numbers and bigints). */
  // deno-lint-ignore no-explicit-any
  readonly fn: (...args: any[]) => unknown;
}

/** The host-import table of an adapter: by core import module, then name. */
export type HostImports = Readonly<Record<string, Readonly<Record<string, HostFunction>>>>;

/** `(i32, i32) -> (i32)`. */
export function signatureText(sig: Signature): string {
  return `(${sig.params.join(", ")}) -> (${sig.results.join(", ")})`;
}

/** Whether two signatures are the same. */
export function sameSignature(a: Signature, b: Signature): boolean {
  return a.params.length === b.params.length && a.results.length === b.results.length &&
    a.params.every((t, i) => t === b.params[i]) && a.results.every((t, i) => t === b.results[i]);
}

/** `world` as `package/world`, e.g. `arqon:bus/policy`. */
export function worldName(world: WorldSpec): string {
  return `${world.package.replace(/@.*$/, "")}/${world.world}`;
}

/**
 * What is wrong with an adapter's host-import table for `world`: a host function the world
 * declares but the table lacks, or one with another signature. Empty when it fits.
 */
export function hostImportProblems(world: WorldSpec, host: HostImports): string[] {
  const problems: string[] = [];
  for (const [module, functions] of Object.entries(world.imports)) {
    for (const [name, sig] of Object.entries(functions)) {
      const have = host[module]?.[name];
      if (!have) problems.push(`the host table lacks ${module}.${name}`);
      else if (!sameSignature(have.signature, sig)) {
        problems.push(
          `host function ${module}.${name} has signature ${signatureText(have.signature)}, ` +
            `the world declares ${signatureText(sig)}`,
        );
      }
    }
  }
  return problems;
}
