/**
 * The approximate index of semantic anycast: hnswlib (the reference HNSW implementation,
 * C++) compiled to WebAssembly, from the npm package `hnswlib-wasm`. Chosen over the
 * alternatives evaluated on this machine (docs/anycast.md): `hnsw` (pure TypeScript, no
 * deletion), `edgevec` (Rust/Wasm, recall@1 0 and ~35 ms inserts in our test), `usearch`
 * and `hnswlib-node` (native addons, not pure JS/Wasm).
 * @module
 */

/** The part of hnswlib-wasm's `HierarchicalNSW` the index uses. */
export interface HnswGraph {
  /** Sizes the graph (elements, M, efConstruction, random seed). */
  initIndex(maxElements: number, m: number, efConstruction: number, seed: number): void;
  /** Grows the graph's capacity. */
  resizeIndex(maxElements: number): void;
  /** Adds one unit vector under `label`. */
  addPoint(point: Float32Array, label: number, replaceDeleted: boolean): void;
  /** Hides a label from searches (a tombstone: its memory stays until a rebuild). */
  markDelete(label: number): void;
  /** Sets the search breadth. */
  setEfSearch(ef: number): void;
  /** Elements the graph holds (tombstones included). */
  getCurrentCount(): number;
  /** Elements it can hold before a resize. */
  getMaxElements(): number;
  /** The `k` nearest labels; distances are 1 - dot product ("ip" space). */
  searchKnn(
    query: Float32Array,
    k: number,
    filter: ((label: number) => boolean) | undefined,
  ): { distances: number[]; neighbors: number[] };
}

interface HnswModule {
  HierarchicalNSW: new (space: string, dim: number, autoSave: string) => HnswGraph;
}

let loading: Promise<HnswModule> | undefined;
let loaded: HnswModule | undefined;

/**
 * Loads the Wasm module once (about 0.9 MB, embedded in the package). Its Emscripten glue
 * was built for browsers and refuses to start without a `window` global, so one is lent
 * for the duration of the load only. The hashed file is the package's factory: the
 * package's own `loadHnswlib` also mounts IndexedDB storage, which Deno lacks and the bus
 * does not need (the index is rebuilt from live subscriptions, never persisted).
 */
export function loadHnsw(): Promise<HnswModule> {
  loading ??= (async () => {
    const g = globalThis as { window?: unknown };
    const lent = g.window === undefined;
    if (lent) g.window = globalThis;
    try {
      const mod = await import("hnswlib-wasm/dist/hnswlib-317962d7.js");
      const factory = mod.default as () => Promise<HnswModule>;
      loaded = await factory();
      return loaded;
    } finally {
      if (lent) delete g.window;
    }
  })();
  return loading;
}

/** The module if loaded (routing is synchronous: it never waits for the load). */
export function hnswIfLoaded(): HnswModule | undefined {
  return loaded;
}

/** HNSW graph parameters (hnswlib's names); measured in bench/agents/anycast.ts. */
export const HNSW_PARAMS = Object.freeze({
  /** Links per node. */
  m: 16,
  /** Breadth while inserting. */
  efConstruction: 100,
  /** Breadth while searching (raised to the number of results asked for). */
  efSearch: 64,
});

/** A new empty graph of `dim` dimensions able to hold `capacity` elements. */
export function newGraph(mod: HnswModule, dim: number, capacity: number): HnswGraph {
  const g = new mod.HierarchicalNSW("ip", dim, "");
  g.initIndex(capacity, HNSW_PARAMS.m, HNSW_PARAMS.efConstruction, 100);
  g.setEfSearch(HNSW_PARAMS.efSearch);
  return g;
}
