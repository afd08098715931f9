/**
 * The embeddings of one reality's anycast subscribers: unit vectors in one flat
 * `Float32Array` (exact search scans it), and past `exactMax` embeddings an HNSW graph
 * beside it (approximate search). The graph is built in slices between event-loop turns,
 * so crossing the size never stalls the node; until it is ready, exact search answers.
 * Joins and leaves change the flat store and the graph at once.
 * @module
 */
import { dotRow } from "./anycast_vector.ts";
import { HNSW_PARAMS, type HnswGraph, hnswIfLoaded, loadHnsw, newGraph } from "./anycast_hnsw.ts";

/** One search result: a slot of the store and its cosine similarity to the query. */
export interface IndexHit {
  /** The slot the embedding was stored at (`add` returned it). */
  readonly slot: number;
  /** Cosine similarity, -1..1. */
  readonly score: number;
}

/** How an index switches from exact to approximate search. */
export interface VectorIndexOptions {
  /**
   * Embeddings at or below which search is exact (no graph is kept).
   * @default {2048}
   */
  readonly exactMax?: number;
  /**
   * Embeddings inserted into a graph being built per event-loop turn.
   * @default {256}
   */
  readonly buildSlice?: number;
}

/** Unit vectors of one dimension, by slot, with exact and approximate nearest search. */
export class VectorIndex {
  /** Dimension of every vector. */
  readonly dim: number;
  /** Search breadth of the graph: recall against time (bench/agents/anycast.ts sweeps it). */
  efSearch: number = HNSW_PARAMS.efSearch;
  readonly #exactMax: number;
  readonly #slice: number;
  #rows: Float32Array;
  #live: Uint8Array;
  // Graph labels: fresh per stored vector (hnswlib-wasm refuses to re-add a deleted
  // label), and the graph reuses a deleted element's memory for the next one.
  #labelOf: Float64Array;
  readonly #slotOf = new Map<number, number>();
  #labels = 0;
  #capacity = 16;
  #top = 0;
  #free: number[] = [];
  #size = 0;
  // The graph in use.
  #graph: HnswGraph | undefined;
  // A graph being built (first build, or a rebuild that drops tombstones).
  #next: HnswGraph | undefined;
  #cursor = 0;
  #building = false;

  /** An empty index of `dim` dimensions. */
  constructor(dim: number, options: VectorIndexOptions = {}) {
    this.dim = dim;
    this.#exactMax = options.exactMax ?? 2048;
    this.#slice = options.buildSlice ?? 256;
    this.#rows = new Float32Array(this.#capacity * dim);
    this.#live = new Uint8Array(this.#capacity);
    this.#labelOf = new Float64Array(this.#capacity);
  }

  /** Embeddings stored. */
  get size(): number {
    return this.#size;
  }

  /** Whether searches may use the graph (it is built and the index is past `exactMax`). */
  get approximate(): boolean {
    return this.#graph !== undefined && this.#size > this.#exactMax;
  }

  /** Stores a unit vector; returns its slot. */
  add(unit: Float32Array): number {
    const slot = this.#free.pop() ?? this.#top++;
    if (slot >= this.#capacity) this.#grow();
    this.#rows.set(unit, slot * this.dim);
    this.#live[slot] = 1;
    this.#size++;
    const label = ++this.#labels;
    this.#labelOf[slot] = label;
    this.#slotOf.set(label, slot);
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
    const label = this.#labelOf[slot];
    this.#slotOf.delete(label);
    this.#graph?.markDelete(label);
    if (this.#next && slot < this.#cursor) this.#next.markDelete(label);
    // Small again: exact search is cheaper than keeping a graph.
    if (this.#size <= this.#exactMax / 2 && !this.#building) this.#graph = undefined;
  }

  /** Cosine similarity of `query` (unit) with the vector at `slot`. */
  score(query: Float32Array, slot: number): number {
    return dotRow(query, this.#rows, slot, this.dim);
  }

  /**
   * The `n` slots nearest to `query` by the graph, skipping those `accept` refuses;
   * undefined when no graph is ready (the caller then searches exactly).
   */
  nearest(
    query: Float32Array,
    n: number,
    accept?: (slot: number) => boolean,
  ): IndexHit[] | undefined {
    const graph = this.#graph;
    if (!graph || this.#size <= this.#exactMax) return undefined;
    const k = Math.min(n, this.#size);
    graph.setEfSearch(Math.max(this.efSearch, k));
    const slotOf = this.#slotOf;
    const found = graph.searchKnn(
      query,
      k,
      accept && ((label) => {
        const slot = slotOf.get(label);
        return slot !== undefined && accept(slot);
      }),
    );
    const out: IndexHit[] = [];
    for (let i = 0; i < found.neighbors.length; i++) {
      const slot = slotOf.get(found.neighbors[i]);
      if (slot !== undefined) out.push({ slot, score: 1 - found.distances[i] });
    }
    return out;
  }

  /** Resolves once a graph being built is ready (tests and benchmarks wait on it). */
  async settled(): Promise<void> {
    while (this.#building) await new Promise((r) => setTimeout(r, 5));
  }

  #grow(): void {
    const capacity = this.#capacity * 2;
    const rows = new Float32Array(capacity * this.dim);
    rows.set(this.#rows);
    const live = new Uint8Array(capacity);
    live.set(this.#live);
    const labels = new Float64Array(capacity);
    labels.set(this.#labelOf);
    this.#rows = rows;
    this.#live = live;
    this.#labelOf = labels;
    this.#capacity = capacity;
  }

  #addTo(graph: HnswGraph, slot: number): void {
    if (graph.getCurrentCount() >= graph.getMaxElements()) {
      graph.resizeIndex(graph.getMaxElements() * 2);
    }
    const row = this.#rows.subarray(slot * this.dim, (slot + 1) * this.dim);
    graph.addPoint(row, this.#labelOf[slot], true);
  }

  #wantGraph(): void {
    if (this.#building || this.#graph) return;
    this.#building = true;
    const mod = hnswIfLoaded();
    if (mod) {
      this.#startBuild(mod);
      return;
    }
    loadHnsw().then((m) => this.#startBuild(m), () => {
      // Without the module, search stays exact (correct, only slower).
      this.#building = false;
    });
  }

  #startBuild(mod: Parameters<typeof newGraph>[0]): void {
    this.#next = newGraph(mod, this.dim, Math.max(1024, this.#size * 2));
    this.#cursor = 0;
    const step = () => {
      const next = this.#next!;
      const end = Math.min(this.#top, this.#cursor + this.#slice);
      for (let slot = this.#cursor; slot < end; slot++) {
        if (this.#live[slot]) this.#addTo(next, slot);
      }
      this.#cursor = end;
      if (end < this.#top) {
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
