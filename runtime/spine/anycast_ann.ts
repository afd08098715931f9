/**
 * The approximate index of semantic anycast: USearch (an HNSW graph in C++ with SIMD
 * distance kernels) from the npm package `usearch`, a node-API addon whose package ships
 * prebuilt binaries for Linux x64/arm64, macOS and Windows (no install script runs; Deno
 * loads it through its npm support, which needs `--allow-ffi`). Chosen after measuring
 * `hnswlib-wasm`, `hnsw`, `edgevec` and usearch's own quantizations on this machine
 * (docs/anycast.md). Where the addon cannot load, search stays exact: correct, only slower.
 *
 * The graph is driven through the addon's `CompiledIndex`, the object the package's `Index`
 * wraps: its `search` per call checks and copies the query (`normalizeVectors`), asks the
 * addon for the dimension twice, and wraps the addon's three result arrays in two objects
 * and two more copies (`BatchMatches.get`). On the anycast path (one query, a handful of
 * hits, every pulse) that was a fifth of a search at 1,000 embeddings (docs/anycast.md).
 * @module
 */
import { createRequire } from "node:module";

/**
 * The addon's index (`CompiledIndex` in usearch's `javascript/lib.cpp`): every argument is
 * taken as given (the caller checks), and `search` returns the keys, distances and counts
 * of its queries (unfilled places of a short answer past the count).
 */
interface CompiledIndex {
  add(keys: BigUint64Array, vectors: Float32Array, threads: number): void;
  remove(keys: BigUint64Array): unknown;
  search(
    query: Float32Array,
    k: number,
    threads: number,
  ): readonly [BigUint64Array, Float32Array, BigUint64Array];
  size(): number;
}

/** Makes a graph: dimensions, metric, quantization, M, efAdd, ef, multi (keys shared). */
type MakeIndex = (
  dimensions: number,
  metric: string,
  quantization: string,
  connectivity: number,
  expansionAdd: number,
  expansionSearch: number,
  multi: boolean,
) => CompiledIndex;

/** The part of the package's `Index` the fallback uses. */
interface PackageIndex {
  add(keys: BigUint64Array, vectors: Float32Array, threads: number): void;
  remove(keys: BigUint64Array): unknown;
  search(q: Float32Array, k: number, threads: number): { keys: BigUint64Array };
  size(): number;
}

/**
 * Graph parameters, chosen with bench/agents/anycast.ts and its sweep at 100,000
 * embeddings of dimension 384 (docs/anycast.md, "Search: exact, then HNSW"): i8
 * quantization (a quarter of f32's memory and distance work; scores are recomputed in f32
 * from the flat store, so only the graph walk is approximate), 16 links per node, insert
 * breadth 256, search breadth 5. On the graph the node builds from the bench's data
 * (2026-12-07 22:00-22:35 UTC, 500 and 1,000 queries), recall@1 was 0.966-0.972 at ef 5,
 * 0.973-0.976 at ef 6, 0.983-0.984 at ef 8 (ef 4: 0.952-0.956, too near the 0.95 bound;
 * ef 7: 0.976). A search with its float32 rescoring, all breadths answering the same
 * queries in turn (2026-12-08 00:50 UTC, 16 rounds, least / first quartile of the rounds'
 * µs CPU): ef 4 31.9 / 33.9, ef 5 34.6 / 36.3, ef 6 35.6 / 38.6. Ef 5 keeps recall@1 above
 * 0.96 for 1-2 µs less a pulse. (Until 2026-12-08 01:00 UTC ef 6; until 2026-12-07 22:40
 * UTC ef 8; until 19:30 UTC insert breadth 128 and ef 16.) The graph is walked once per
 * pulse: it is most of a pulse's cost at 100,000 (memory-bound: 38 MB of i8 vectors; and
 * each call into the addon costs a few µs whatever the graph).
 */
export const ANN_PARAMS = Object.freeze({
  quantization: "i8",
  connectivity: 16,
  expansionAdd: 256,
  expansionSearch: 5,
});

let loading: Promise<MakeIndex> | undefined;
let loaded: MakeIndex | undefined;

/**
 * The addon's `CompiledIndex`, loaded as the package loads it: `node-gyp-build` (the
 * package's own dependency) from the package's folder finds the prebuilt binary, and
 * node's module cache returns the module the package's entry point loaded. Where the
 * package's entry is not a file on disk (no `node_modules`), or its addon has no
 * `CompiledIndex` (another usearch), the package's `Index` serves instead, slower.
 */
async function makeIndex(): Promise<MakeIndex> {
  const mod = await import("usearch");
  const pkg = (mod.default ?? mod) as unknown as {
    Index: new (config: Record<string, unknown>) => PackageIndex;
  };
  try {
    const entry = import.meta.resolve("usearch");
    if (entry.startsWith("file:")) {
      const require = createRequire(entry);
      const build = require("node-gyp-build") as (dir: string) => {
        CompiledIndex?: new (...args: unknown[]) => CompiledIndex;
      };
      // The entry is javascript/dist/esm/usearch.js: the package root is 3 folders up.
      const Compiled = build(new URL("../../../", entry).pathname).CompiledIndex;
      if (typeof Compiled === "function") return (...args) => new Compiled(...args);
    }
  } catch {
    // The package's Index below.
  }
  return (dimensions, metric, quantization, connectivity, expansionAdd, expansionSearch) =>
    wrapped(
      new pkg.Index({
        dimensions,
        metric,
        quantization,
        connectivity,
        expansion_add: expansionAdd,
        expansion_search: expansionSearch,
      }),
    );
}

/** The package's `Index` seen as the addon's (its search returns only the filled places). */
function wrapped(index: PackageIndex): CompiledIndex {
  return {
    add: (keys, vectors, threads) => index.add(keys, vectors, threads),
    remove: (keys) => index.remove(keys),
    search(query, k, threads) {
      const { keys } = index.search(query, k, threads);
      return [keys, new Float32Array(keys.length), BigUint64Array.of(BigInt(keys.length))];
    },
    size: () => index.size(),
  };
}

/** Loads the addon once (about 2 MB); rejects where it cannot load. */
export function loadAnn(): Promise<unknown> {
  loading ??= makeIndex().then((make) => loaded = make);
  return loading;
}

/** Whether the addon is loaded (routing is synchronous: it never waits for the load). */
export function annLoaded(): boolean {
  return loaded !== undefined;
}

/**
 * One HNSW graph of unit vectors keyed by the flat store's slots. A removed slot's key may
 * be added again (usearch reuses the removed node's memory for the next insertion, so a
 * graph under join/leave churn stays the size of its live set). Every call runs on the
 * calling thread (`threads` 1): usearch would otherwise start threads per call.
 */
export class AnnGraph {
  readonly #index: CompiledIndex;
  readonly #key = new BigUint64Array(1);

  /** An empty graph of `dim` dimensions (the module must be loaded: `loadAnn`). */
  constructor(dim: number) {
    if (!loaded) throw new Error("usearch is not loaded (loadAnn)");
    this.#index = loaded(
      dim,
      // Inner product of unit vectors is their cosine similarity: distance 1 - cosine.
      "ip",
      ANN_PARAMS.quantization,
      ANN_PARAMS.connectivity,
      ANN_PARAMS.expansionAdd,
      ANN_PARAMS.expansionSearch,
      false,
    );
  }

  /** Vectors in the graph. */
  get size(): number {
    return this.#index.size();
  }

  /** Adds the unit vector `unit` (of the graph's dimension) under `slot`. */
  add(slot: number, unit: Float32Array): void {
    this.#key[0] = BigInt(slot);
    this.#index.add(this.#key, unit, 1);
  }

  /** Removes `slot`: no search returns it again. */
  remove(slot: number): void {
    this.#key[0] = BigInt(slot);
    this.#index.remove(this.#key);
  }

  /**
   * Writes up to `n` slots nearest to `query` into `out` (at least `n` long), nearest
   * first by the quantized distance; returns how many. Nothing of an earlier search
   * survives in what it returns: the addon answers each search in arrays of its own.
   */
  search(query: Float32Array, n: number, out: Int32Array): number {
    const [keys, , counts] = this.#index.search(query, n, 1);
    // The answer holds fewer than n when the graph has fewer vectors (the rest unfilled).
    const count = Number(counts[0]);
    for (let i = 0; i < count; i++) out[i] = Number(keys[i]);
    return count;
  }
}
