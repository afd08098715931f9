/**
 * The approximate index of semantic anycast: USearch (an HNSW graph in C++ with SIMD
 * distance kernels) from the npm package `usearch`, a node-API addon whose package ships
 * prebuilt binaries for Linux x64/arm64, macOS and Windows (no install script runs; Deno
 * loads it through its npm support, which needs `--allow-ffi`). Chosen after measuring
 * `hnswlib-wasm`, `hnsw`, `edgevec` and usearch's own quantizations on this machine
 * (docs/anycast.md). Where the addon cannot load, search stays exact: correct, only slower.
 * @module
 */

/** The part of usearch's `Index` the anycast index uses. */
interface UsearchIndex {
  add(keys: BigUint64Array, vectors: Float32Array, threads: number): void;
  remove(keys: BigUint64Array): number | number[];
  search(
    vector: Float32Array,
    k: number,
    threads: number,
  ): { keys: BigUint64Array; distances: Float32Array };
  size(): number;
}

interface UsearchModule {
  Index: new (config: {
    dimensions: number;
    metric: string;
    quantization: string;
    connectivity: number;
    expansion_add: number;
    expansion_search: number;
  }) => UsearchIndex;
}

/**
 * Graph parameters, chosen with bench/agents/anycast.ts and its sweep at 100,000
 * embeddings of dimension 384 (docs/anycast.md, "Search: exact, then HNSW"): i8
 * quantization (a quarter of f32's memory and distance work; scores are recomputed in f32
 * from the flat store, so only the graph walk is approximate), 16 links per node, insert
 * breadth 256 and search breadth 8: a graph built with the wider insert breadth finds the
 * nearest at ef 8 as often (recall@1 0.979) as the one built at 128 did at ef 12, and
 * each search walks about a quarter less than at the previous ef 16 (0.989). A join costs
 * about 1.7x as much as at 128 (the graph is built between event-loop turns).
 */
export const ANN_PARAMS = Object.freeze({
  quantization: "i8",
  connectivity: 16,
  expansionAdd: 256,
  expansionSearch: 8,
});

let loading: Promise<UsearchModule> | undefined;
let loaded: UsearchModule | undefined;

/** Loads the addon once (about 2 MB); rejects where it cannot load. */
export function loadAnn(): Promise<UsearchModule> {
  loading ??= import("usearch").then((mod) => {
    loaded = (mod.default ?? mod) as unknown as UsearchModule;
    return loaded;
  });
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
  readonly #index: UsearchIndex;
  readonly #key = new BigUint64Array(1);

  /** An empty graph of `dim` dimensions (the module must be loaded: `loadAnn`). */
  constructor(dim: number) {
    if (!loaded) throw new Error("usearch is not loaded (loadAnn)");
    this.#index = new loaded.Index({
      dimensions: dim,
      // Inner product of unit vectors is their cosine similarity: distance 1 - cosine.
      metric: "ip",
      quantization: ANN_PARAMS.quantization,
      connectivity: ANN_PARAMS.connectivity,
      expansion_add: ANN_PARAMS.expansionAdd,
      expansion_search: ANN_PARAMS.expansionSearch,
    });
  }

  /** Vectors in the graph. */
  get size(): number {
    return this.#index.size();
  }

  /** Adds the unit vector `unit` under `slot`. */
  add(slot: number, unit: Float32Array): void {
    this.#key[0] = BigInt(slot);
    this.#index.add(this.#key, unit, 1);
  }

  /** Removes `slot`: no search returns it again. */
  remove(slot: number): void {
    this.#key[0] = BigInt(slot);
    this.#index.remove(this.#key);
  }

  /** Up to `n` slots nearest to `query`, nearest first (by the quantized distance). */
  search(query: Float32Array, n: number): number[] {
    const found = this.#index.search(query, n, 1);
    const out: number[] = [];
    for (let i = 0; i < found.keys.length; i++) {
      // Unfilled result entries (fewer vectors than asked) have an infinite distance.
      if (Number.isFinite(found.distances[i])) out.push(Number(found.keys[i]));
    }
    return out;
  }
}
