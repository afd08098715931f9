/**
 * Semantic anycast of one reality (issue 16 item 4): subscriptions register capability
 * embeddings; an anycast pulse goes to the `k` subscriptions of its topic whose best
 * embedding is nearest to the pulse's vector by cosine similarity, at or above each one's
 * `min_score`, ties taken in turn. Exact search while a dimension's embeddings are few,
 * the HNSW graph of `VectorIndex` past `exactMax`.
 * @module
 */
import { BusError, type IAnycastMatch } from "../protocol/mod.ts";
import type { Subscription } from "./subscription.ts";
import { VectorIndex } from "./anycast_index.ts";
import { MAX_ANYCAST_K } from "./anycast_vector.ts";

/** Bounds and switch-over of anycast; each has a node flag (`ANYCAST_FLAGS`). */
export interface AnycastLimits {
  /**
   * Embeddings one subscription (or card) may register.
   * @default {16}
   */
  readonly maxPerSubscription: number;
  /**
   * Embeddings one reality holds across its subscriptions (past it: QUOTA_EXCEEDED).
   * @default {100000}
   */
  readonly maxPerReality: number;
  /**
   * Embeddings of one dimension at or below which search is exact.
   * @default {64}
   */
  readonly exactMax: number;
}

/** Scores closer than this are ties (float32 embeddings carry about 7 digits). */
const TIE = 1e-6;

/** How much more a graph search asks for when the first answer held too few of a topic's. */
const WIDEN = 8;

/**
 * The most a graph search asks for before a topic's candidates are scanned exactly (a
 * topic holding a small share of a large dimension, or scores mostly under `min_score`).
 */
const MAX_GRAPH_HITS = 512;

/**
 * How many hits the first graph search of a choice of `k` asks for: 2k + 2. Several
 * embeddings of one subscriber may come first, and the graph ranks by i8-quantized
 * distances: the float32 rescoring of a few more than k finds the nearest the graph ranked
 * second or third. Each hit costs a row of the flat store fetched from memory and ~400
 * multiply-adds at dimension 384, so the first ask stays small; the widening covers
 * crowding. (2 hits at k 1 kept recall@1 at 100,000 × 384 and saved ~1 µs, but at
 * dimension 16, where i8 is coarser, found the nearest for 55 of 60 queries against 60.)
 */
export function firstAsk(k: number): number {
  return 2 * k + 2;
}

/** One chosen subscriber of an anycast pulse. */
export interface AnycastChoice {
  /** The subscription that gets the pulse. */
  readonly sub: Subscription;
  /** What its delivery says: the embedding's index and its score. */
  readonly match: IAnycastMatch;
}

/** The subscriptions of one topic (a `Route` of the reality). */
export interface RouteLike {
  /** Subscriptions outside queue groups. */
  readonly direct: readonly Subscription[];
  /** Members of queue groups (anycast ignores the grouping). */
  readonly groups: readonly (readonly Subscription[])[];
}

interface Entry {
  readonly sub: Subscription;
  readonly dim: number;
  readonly slots: readonly number[];
  readonly minScore: number;
  /** Registration order: ties are taken in turn by it. */
  readonly serial: number;
  // Scratch of one choice (choices are synchronous, one at a time): `mark` is the number
  // of the search round that found this entry, `score` and `embedding` its best there,
  // `key` its score in tie margins. No Map and no object per hit on the routing path.
  mark: number;
  score: number;
  embedding: number;
  key: number;
}

/** The anycast subscriptions of one route and dimension, as a list and (lazily) a set. */
interface Candidates {
  readonly list: readonly Entry[];
  readonly set: () => Set<Entry>;
}

interface Space {
  readonly index: VectorIndex;
  /** Slot -> entry and slot -> embedding index within the entry. */
  readonly owners: (Entry | undefined)[];
  readonly which: number[];
  entries: number;
}

/** The anycast registrations of one reality. */
export class AnycastRegistry {
  readonly #limits: AnycastLimits;
  readonly #entries = new Map<Subscription, Entry>();
  readonly #spaces = new Map<number, Space>();
  #embeddings = 0;
  #serial = 0;
  #lastChosen = 0;
  // The number of the current search round (entries found in it carry it as `mark`).
  #mark = 0;
  // Entries found by the current round, and the ranked first k of them: reused, with
  // their counts apart (setting an array's length to 0 drops its backing store, and the
  // next push allocates one again). They keep the last choice's entries until overwritten.
  readonly #found: Entry[] = [];
  #foundCount = 0;
  readonly #ranked: Entry[] = [];
  // The k best scores of an exact scan so far, descending.
  readonly #top = new Float64Array(MAX_ANYCAST_K);
  // Candidates of a route (the subscriptions of a topic): routes are rebuilt whenever a
  // subscription comes or goes, so a cached list is never stale.
  #candidates = new WeakMap<RouteLike, Map<number, Candidates>>();

  /** An empty registry under `limits`. */
  constructor(limits: AnycastLimits) {
    this.#limits = limits;
  }

  /** Embeddings registered in this reality. */
  get embeddings(): number {
    return this.#embeddings;
  }

  /** Whether `sub` is an anycast target. */
  has(sub: Subscription): boolean {
    return this.#entries.has(sub);
  }

  /** The index of a dimension, if any subscription registered one (tests, benchmarks). */
  indexOf(dim: number): VectorIndex | undefined {
    return this.#spaces.get(dim)?.index;
  }

  /**
   * Registers `sub` with unit vectors of dimension `dim`. Throws `INVALID_ARGUMENT` past
   * the per-subscription bound and `QUOTA_EXCEEDED` past the reality's.
   */
  register(sub: Subscription, units: readonly Float32Array[], minScore: number, dim: number): void {
    const { maxPerSubscription, maxPerReality } = this.#limits;
    if (units.length === 0) throw new BusError("INVALID_ARGUMENT", "anycast: no vectors");
    if (units.length > maxPerSubscription) {
      throw new BusError(
        "INVALID_ARGUMENT",
        `anycast: at most ${maxPerSubscription} vectors per subscription, got ${units.length}`,
      );
    }
    if (this.#embeddings + units.length > maxPerReality) {
      throw new BusError(
        "QUOTA_EXCEEDED",
        `anycast: reality "${sub.spec.realityId}" holds its maximum of ${maxPerReality} embeddings`,
      );
    }
    this.unregister(sub);
    let space = this.#spaces.get(dim);
    if (!space) {
      space = {
        index: new VectorIndex(dim, { exactMax: this.#limits.exactMax }),
        owners: [],
        which: [],
        entries: 0,
      };
      this.#spaces.set(dim, space);
    }
    const slots: number[] = [];
    try {
      for (const u of units) slots.push(space.index.add(u));
    } catch (err) {
      // The store could not grow (QUOTA_EXCEEDED): nothing of this registration stays.
      for (const slot of slots) space.index.remove(slot);
      if (space.entries === 0) this.#spaces.delete(dim);
      throw err;
    }
    const entry: Entry = {
      sub,
      dim,
      slots,
      minScore,
      serial: ++this.#serial,
      mark: 0,
      score: 0,
      embedding: 0,
      key: 0,
    };
    slots.forEach((slot, i) => {
      space.owners[slot] = entry;
      space.which[slot] = i;
    });
    space.entries++;
    this.#entries.set(sub, entry);
    this.#embeddings += slots.length;
  }

  /** Removes `sub`'s embeddings at once: it is never chosen again. */
  unregister(sub: Subscription): void {
    const entry = this.#entries.get(sub);
    if (!entry) return;
    this.#entries.delete(sub);
    const space = this.#spaces.get(entry.dim)!;
    for (const slot of entry.slots) {
      space.index.remove(slot);
      space.owners[slot] = undefined;
    }
    space.entries--;
    this.#embeddings -= entry.slots.length;
    if (space.entries === 0) this.#spaces.delete(entry.dim);
  }

  /**
   * Chooses up to `k` of `route`'s subscriptions for a unit `query`: best embedding per
   * subscription, at or above its `min_score`, highest first, ties in turn. Empty when
   * none qualifies.
   */
  choose(
    route: RouteLike,
    query: Float32Array,
    k: number,
  ): AnycastChoice[] {
    const space = this.#spaces.get(query.length);
    if (!space) return [];
    const { list: candidates, set } = this.#candidatesOf(route, query.length);
    if (candidates.length === 0) return [];
    // A topic with few candidates is scanned exactly even when the dimension has a graph.
    const graph = space.index.approximate && candidates.length > this.#limits.exactMax;
    if (!graph || !this.#approximate(space, candidates, set, query, k)) {
      this.#exact(space.index, candidates, query, k);
    }
    const count = this.#rank(k);
    if (count === 0) return [];
    const ranked = this.#ranked;
    this.#lastChosen = ranked[count - 1].serial;
    const chosen: AnycastChoice[] = [];
    for (let i = 0; i < count; i++) {
      const e = ranked[i];
      chosen.push({ sub: e.sub, match: { embedding: e.embedding, score: e.score } });
    }
    return chosen;
  }

  /**
   * The first `k` of the entries found that reach their `min_score`: highest score
   * first, scores within the tie margin taken in turn, from the first registration after
   * the one chosen last, wrapping around. An insertion into at most `k` (32) places of
   * `#ranked`; returns how many it holds.
   */
  #rank(k: number): number {
    const found = this.#found;
    const ranked = this.#ranked;
    const last = this.#lastChosen;
    let count = 0;
    for (let f = 0; f < this.#foundCount; f++) {
      const e = found[f];
      if (e.score < e.minScore) continue;
      // Scores within the margin are ties.
      e.key = Math.round(e.score / TIE);
      const turn = (e.serial - last - 1) >>> 0;
      let at = count;
      while (at > 0) {
        const p = ranked[at - 1];
        if (p.key > e.key || (p.key === e.key && ((p.serial - last - 1) >>> 0) < turn)) break;
        at--;
      }
      if (at >= k) continue;
      // Shifts the later ones down a place (the last falls off past k).
      for (let i = Math.min(count, k - 1); i > at; i--) ranked[i] = ranked[i - 1];
      ranked[at] = e;
      if (count < k) count++;
    }
    this.#foundCount = 0;
    return count;
  }

  /**
   * Search by the graph: each subscription's best embedding among the graph's nearest,
   * keeping those of the topic's `candidates` only. The graph holds every embedding of the
   * dimension, so when other topics' embeddings (or scores under `min_score`) crowd out
   * the topic's, it asks again for `WIDEN` times more, up to `MAX_GRAPH_HITS`. False when
   * even that found fewer than `k` that qualify while other topics' embeddings took
   * places (the caller then scans the topic's candidates exactly); when every hit was the
   * topic's, the graph's answer stands, so a vector nobody matches costs graph searches,
   * never a scan of the whole dimension.
   */
  #approximate(
    space: Space,
    candidates: readonly Entry[],
    set: () => Set<Entry>,
    query: Float32Array,
    k: number,
  ): boolean {
    // Every registration of the dimension is a candidate: no set to look up per hit.
    const wanted = candidates.length === space.entries ? undefined : set();
    const found = this.#found;
    let n = firstAsk(k);
    for (;;) {
      const hits = space.index.search(query, n)!;
      const { count, slots, scores } = hits;
      const mark = ++this.#mark;
      let foundCount = 0;
      let qualified = 0;
      let crowded = false;
      // The k-th qualifying subscription's score (hits come best first).
      let kth = -Infinity;
      for (let h = 0; h < count; h++) {
        const score = scores[h];
        // Hits come best first: once k qualify, a hit below the k-th less the tie margin
        // (and every one after it) can neither enter the first k nor tie with them. Its
        // owner is not looked up: at 100,000 subscriptions each lookup is a cache miss.
        if (qualified >= k && score < kth - TIE) break;
        const slot = slots[h];
        const entry = space.owners[slot];
        if (!entry) continue;
        if (wanted && !wanted.has(entry)) {
          crowded = true;
          continue;
        }
        const seen = entry.mark === mark;
        if (seen && score <= entry.score) continue;
        if (score >= entry.minScore && !(seen && entry.score >= entry.minScore)) {
          if (++qualified === k) kth = score;
        }
        if (!seen) {
          entry.mark = mark;
          found[foundCount++] = entry;
        }
        entry.score = score;
        entry.embedding = space.which[slot];
      }
      this.#foundCount = foundCount;
      // Ties are taken in turn among all of them: while the graph's last hit still ties
      // with the k-th, more tied subscriptions may lie past it (identical embeddings).
      const tiedPast = count === n && scores[n - 1] >= kth - TIE;
      if (qualified >= k && !(tiedPast && n < MAX_GRAPH_HITS)) return true;
      // The graph returned everything it has: the answer stands, short or empty.
      if (count < n) return true;
      if (n >= MAX_GRAPH_HITS) return !crowded;
      n = Math.min(n * WIDEN, MAX_GRAPH_HITS);
    }
  }

  /**
   * Exact search: each candidate's best embedding, found only when it qualifies
   * (min_score) and is not below the k-th best so far less the tie margin. No allocation
   * per candidate: this loop is the whole cost below `exactMax`.
   */
  #exact(
    index: VectorIndex,
    candidates: readonly Entry[],
    query: Float32Array,
    k: number,
  ): void {
    const found = this.#found;
    let foundCount = 0;
    const mark = ++this.#mark;
    // The k best scores so far, descending (k is at most 32).
    const top = this.#top;
    let tops = 0;
    index.useQuery(query);
    for (let c = 0; c < candidates.length; c++) {
      const entry = candidates[c];
      const slots = entry.slots;
      let score = index.scoreUsed(slots[0]);
      let embedding = 0;
      for (let i = 1; i < slots.length; i++) {
        const s = index.scoreUsed(slots[i]);
        if (s > score) {
          score = s;
          embedding = i;
        }
      }
      if (score < entry.minScore) continue;
      if (tops === k && score < top[k - 1] - TIE) continue;
      entry.mark = mark;
      entry.score = score;
      entry.embedding = embedding;
      found[foundCount++] = entry;
      let at = tops;
      while (at > 0 && top[at - 1] < score) at--;
      if (at < k) {
        if (tops < k) tops++;
        for (let i = tops - 1; i > at; i--) top[i] = top[i - 1];
        top[at] = score;
      }
    }
    this.#foundCount = foundCount;
  }

  #candidatesOf(route: RouteLike, dim: number): Candidates {
    let byDim = this.#candidates.get(route);
    if (!byDim) this.#candidates.set(route, byDim = new Map());
    const cached = byDim.get(dim);
    if (cached) return cached;
    const found: Entry[] = [];
    const add = (sub: Subscription) => {
      const entry = this.#entries.get(sub);
      if (entry && entry.dim === dim) found.push(entry);
    };
    for (const sub of route.direct) add(sub);
    for (const members of route.groups) for (const sub of members) add(sub);
    let set: Set<Entry> | undefined;
    // The set (for the graph's filter) only when a topic's candidates are not all of them.
    const candidates: Candidates = { list: found, set: () => set ??= new Set(found) };
    byDim.set(dim, candidates);
    return candidates;
  }
}
