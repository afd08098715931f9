/**
 * The embeddings of one reality's anycast subscribers: unit vectors in one flat float32
 * store, kept in a Wasm memory of its own so that scores are SIMD dot products
 * (`anycast_dot.ts`; exact search scans it), and past `exactMax` embeddings an HNSW graph
 * beside it (usearch, `anycast_ann.ts`) for approximate search. The graph is built in
 * time-boxed slices between event-loop turns, so crossing the size never stalls the node;
 * until it is ready, exact search answers. Joins and leaves change the flat store and the
 * graph at once.
 * @module
 */
import { BusError } from "../protocol/mod.ts";
import { AnnGraph, annLoaded, loadAnn } from "./anycast_ann.ts";
import { type Dot, dotKernel } from "./anycast_dot.ts";

/** Bytes of a Wasm memory page. */
const PAGE = 65536;

/** One search result: a slot of the store and its cosine similarity to the query. */
export interface IndexHit {
  /** The slot the embedding was stored at (`add` returned it). */
  readonly slot: number;
  /** Cosine similarity, -1..1, computed exactly from the stored float32 vector. */
  readonly score: number;
}

/**
 * The answer of `VectorIndex.search`: `count` slots, best first, and their cosine
 * similarities, computed exactly from the stored float32 vectors. Owned by its index and
 * overwritten by its next search.
 */
export class IndexHits {
  /** Hits of the last search. */
  count = 0;
  /** Their slots, best first (places past `count` are stale). */
  slots: Int32Array = new Int32Array(16);
  /** Their scores, in the same order. */
  scores: Float64Array = new Float64Array(16);

  /** Makes room for `n` hits (the routing path asks for at most 512). */
  grow(n: number): void {
    this.slots = new Int32Array(n);
    this.scores = new Float64Array(n);
  }
}

/** How an index switches from exact to approximate search. */
export interface VectorIndexOptions {
  /**
   * Embeddings at or below which search is exact (no graph is kept).
   * @default {64}
   */
  readonly exactMax?: number;
  /**
   * Milliseconds of graph insertions per event-loop turn while a graph is built.
   * @default {4}
   */
  readonly buildSliceMs?: number;
}

/** Unit vectors of one dimension, by slot, with exact and approximate nearest search. */
export class VectorIndex {
  /** Dimension of every vector. */
  readonly dim: number;
  readonly #exactMax: number;
  readonly #sliceMs: number;
  // The flat store: the query of the search under way at float 0, row `slot` at float
  // `#base + slot * dim` (16-byte aligned); `#mem` views all of `#memory` and is made
  // again whenever the memory grows (growing detaches the old view).
  readonly #memory: WebAssembly.Memory;
  readonly #dot: Dot;
  readonly #base: number;
  #mem: Float32Array;
  #live: Uint8Array;
  #capacity = 16;
  #top = 0;
  #free: number[] = [];
  #size = 0;
  // The graph in use, keyed by slot.
  #graph: AnnGraph | undefined;
  // The answer of the last search (reused: one per index, searches are synchronous).
  readonly #hits = new IndexHits();
  // A graph being built (slots below the cursor are in it).
  #next: AnnGraph | undefined;
  #cursor = 0;
  #building = false;

  /** An empty index of `dim` dimensions. */
  constructor(dim: number, options: VectorIndexOptions = {}) {
    this.dim = dim;
    this.#exactMax = options.exactMax ?? 64;
    this.#sliceMs = options.buildSliceMs ?? 4;
    this.#base = (dim + 3) & ~3;
    this.#memory = new WebAssembly.Memory({ initial: this.#pagesFor(this.#capacity) });
    this.#dot = dotKernel(this.#memory);
    this.#mem = new Float32Array(this.#memory.buffer);
    this.#live = new Uint8Array(this.#capacity);
  }

  /** Embeddings stored. */
  get size(): number {
    return this.#size;
  }

  /** Whether searches may use the graph (it is built and the index is past `exactMax`). */
  get approximate(): boolean {
    return this.#graph !== undefined && this.#size > this.#exactMax;
  }

  /** Vectors in the graph in use (0 without one): live ones only, tombstones are reused. */
  get graphSize(): number {
    return this.#graph?.size ?? 0;
  }

  /** Stores a unit vector; returns its slot. */
  add(unit: Float32Array): number {
    const reuse = this.#free.length > 0;
    const slot = reuse ? this.#free[this.#free.length - 1] : this.#top;
    // Grown (or refused: QUOTA_EXCEEDED) before anything changes.
    if (slot >= this.#capacity) this.#grow();
    if (reuse) this.#free.pop();
    else this.#top++;
    this.#mem.set(unit, this.#base + slot * this.dim);
    this.#live[slot] = 1;
    this.#size++;
    if (this.#graph) this.#addTo(this.#graph, slot);
    // The builder has passed this slot already: it would miss it.
    if (this.#next && slot < this.#cursor) this.#addTo(this.#next, slot);
    if (this.#size > this.#exactMax) this.#wantGraph();
    return slot;
  }

  /** Removes the vector at `slot`; it is never returned by a search again. */
  remove(slot: number): void {
    if (!this.#live[slot]) return;
    this.#live[slot] = 0;
    this.#size--;
    this.#free.push(slot);
    this.#graph?.remove(slot);
    if (this.#next && slot < this.#cursor) this.#next.remove(slot);
    // Small again: exact search is cheaper than keeping a graph.
    if (this.#size <= this.#exactMax / 2 && !this.#building) this.#graph = undefined;
  }

  /** Cosine similarity of `query` (unit) with the vector at `slot`. */
  score(query: Float32Array, slot: number): number {
    this.useQuery(query);
    return this.scoreUsed(slot);
  }

  /**
   * Makes `query` (unit, of this dimension) the one `scoreUsed` scores against: a scan
   * copies its query into the store once, not once per row.
   */
  useQuery(query: Float32Array): void {
    this.#mem.set(query, 0);
  }

  /** Cosine similarity of the query of the last `useQuery` with the vector at `slot`. */
  scoreUsed(slot: number): number {
    return this.#dot(0, (this.#base + slot * this.dim) * 4, this.dim);
  }

  /**
   * About the `n` slots nearest to `query` by the graph, best first, each scored exactly;
   * undefined when no graph is ready (the caller then searches exactly). A copy of
   * `search`'s answer, for callers that keep it.
   */
  nearest(query: Float32Array, n: number): IndexHit[] | undefined {
    const hits = this.search(query, n);
    if (!hits) return undefined;
    const out: IndexHit[] = [];
    for (let i = 0; i < hits.count; i++) out.push({ slot: hits.slots[i], score: hits.scores[i] });
    return out;
  }

  /**
   * About the `n` slots nearest to `query` by the graph, best first, each scored exactly
   * in float32; undefined when no graph is ready (the caller then searches exactly). The
   * answer is this index's own `IndexHits`, overwritten by its next search: the routing
   * path reads it at once and allocates nothing per search.
   */
  search(query: Float32Array, n: number): IndexHits | undefined {
    const graph = this.#graph;
    if (!graph || this.#size <= this.#exactMax) return undefined;
    const hits = this.#hits;
    if (hits.slots.length < n) hits.grow(n);
    const { slots, scores } = hits;
    const found = graph.search(query, Math.min(n, this.#size), slots);
    this.useQuery(query);
    let count = 0;
    // The graph ranks by i8-quantized distances: the float32 rescoring orders the few it
    // returns exactly (an insertion sort: they come nearly in order) and gives deliveries
    // the true similarity.
    for (let i = 0; i < found; i++) {
      const slot = slots[i];
      if (!this.#live[slot]) continue;
      const score = this.scoreUsed(slot);
      let at = count++;
      for (; at > 0 && scores[at - 1] < score; at--) {
        slots[at] = slots[at - 1];
        scores[at] = scores[at - 1];
      }
      slots[at] = slot;
      scores[at] = score;
    }
    hits.count = count;
    return hits;
  }

  /** Resolves once a graph being built is ready (tests and benchmarks wait on it). */
  async settled(): Promise<void> {
    while (this.#building) await new Promise((r) => setTimeout(r, 5));
  }

  /** Pages of a store of `capacity` rows (and the query before them). */
  #pagesFor(capacity: number): number {
    return Math.ceil((this.#base + capacity * this.dim) * 4 / PAGE);
  }

  #grow(): void {
    const capacity = this.#capacity * 2;
    const more = this.#pagesFor(capacity) - this.#memory.buffer.byteLength / PAGE;
    try {
      // In place: the rows stay where they are (a Wasm memory grows up to 4 GiB).
      if (more > 0) this.#memory.grow(more);
    } catch {
      throw new BusError(
        "QUOTA_EXCEEDED",
        `anycast: no memory for ${capacity} embeddings of dimension ${this.dim}`,
      );
    }
    this.#mem = new Float32Array(this.#memory.buffer);
    const live = new Uint8Array(capacity);
    live.set(this.#live);
    this.#live = live;
    this.#capacity = capacity;
  }

  #addTo(graph: AnnGraph, slot: number): void {
    const at = this.#base + slot * this.dim;
    graph.add(slot, this.#mem.subarray(at, at + this.dim));
  }

  #wantGraph(): void {
    if (this.#building || this.#graph) return;
    this.#building = true;
    if (annLoaded()) {
      this.#startBuild();
      return;
    }
    loadAnn().then(() => this.#startBuild(), () => {
      // Without the addon, search stays exact (correct, only slower).
      this.#building = false;
    });
  }

  #startBuild(): void {
    this.#next = new AnnGraph(this.dim);
    this.#cursor = 0;
    const step = () => {
      const next = this.#next!;
      const until = performance.now() + this.#sliceMs;
      let slot = this.#cursor;
      while (slot < this.#top) {
        if (this.#live[slot]) this.#addTo(next, slot);
        // The clock is read every 16 insertions (each is tens of microseconds).
        if ((++slot & 15) === 0 && performance.now() >= until) break;
      }
      this.#cursor = slot;
      if (slot < this.#top) {
        setTimeout(step, 0);
        return;
      }
      this.#graph = next;
      this.#next = undefined;
      this.#building = false;
    };
    step();
  }
}
