/**
 * A reality: an isolated namespace with its own monotonic sequence and its own
 * subscription trie. Routes are cached per topic until the subscriptions change.
 * @module
 */
import type { LaneRules } from "./lanes.ts";
import type { Subscription } from "./subscription.ts";
import { SubscriptionTrie } from "./trie.ts";

/** Who receives a topic: plain subscribers, and queue groups of which one member gets it. */
export interface Route {
  /** Subscriptions outside any queue group: each gets the pulse. */
  readonly direct: readonly Subscription[];
  /** Members of each queue group matching the topic: one member per group gets it. */
  readonly groups: readonly (readonly Subscription[])[];
  /**
   * Whether any of them has a spectral filter: routes without one take the path that
   * never looks at spectral metadata.
   */
  readonly filtered: boolean;
}

const EMPTY_ROUTE: Route = { direct: [], groups: [], filtered: false };
const MAX_CACHED_ROUTES = 10_000;

/** One reality; lives as long as the node (or until deleted). */
export class Reality {
  /** The reality's id. */
  readonly id: string;
  /** The last sequence assigned; the next pulse gets `sequence + 1`. */
  sequence: number;
  /** Pulses accepted so far (folded into the published metric at render time). */
  published = 0;
  /** The part of `published` already reported to the metric. */
  publishedReported = 0;
  /** Lanes of pulses that name none, by topic pattern (`PUT .../lanes`); undefined: none. */
  laneRules: LaneRules | undefined = undefined;
  readonly #trie = new SubscriptionTrie<Subscription>();
  #routes = new Map<string, Route>();
  // By group name, not by route: routes are rebuilt on every (un)subscribe, and each
  // request opens an inbox subscription, so a per-route counter restarted at the first
  // member for every request (and every topic). Bounded: cleared past MAX_CACHED_ROUTES.
  #roundRobin = new Map<string, number>();

  /** Creates a reality that continues after `lastSequence`. */
  constructor(id: string, lastSequence = 0) {
    this.id = id;
    this.sequence = lastSequence;
  }

  /** Live subscriptions in this reality. */
  get subscriptionCount(): number {
    return this.#trie.size;
  }

  /** Deliveries waiting in this reality's subscriber queues (walks them: for /metrics). */
  queued(): number {
    let n = 0;
    for (const sub of this.#subs) n += sub.queued;
    return n;
  }

  // Beside the trie, for walks over every subscription (rare: at /metrics render).
  readonly #subs = new Set<Subscription>();

  /** Every live subscription of this reality (a walk: for admin views, not the hot path). */
  subscriptions(): IterableIterator<Subscription> {
    return this.#subs.values();
  }

  /** Registers a subscription. */
  add(sub: Subscription): void {
    this.#subs.add(sub);
    this.#trie.insert(sub.spec.pattern, sub);
    this.#invalidate();
  }

  /** Unregisters a subscription. */
  remove(sub: Subscription): void {
    this.#subs.delete(sub);
    if (this.#trie.remove(sub.spec.pattern, sub)) this.#invalidate();
  }

  /** The subscribers of a concrete topic. */
  route(topic: string): Route {
    let route = this.#routes.get(topic);
    if (route) return route;
    const matches = this.#trie.match(topic);
    if (matches.length === 0) {
      route = EMPTY_ROUTE;
    } else {
      const direct: Subscription[] = [];
      const groups = new Map<string, Subscription[]>();
      let filtered = false;
      for (const sub of matches) {
        if (sub.spec.spectralFilter) filtered = true;
        const g = sub.spec.queueGroup;
        if (!g) direct.push(sub);
        else {
          let members = groups.get(g);
          if (!members) groups.set(g, members = []);
          members.push(sub);
        }
      }
      route = { direct, groups: [...groups.values()], filtered };
    }
    if (this.#routes.size >= MAX_CACHED_ROUTES) this.#routes.clear();
    this.#routes.set(topic, route);
    return route;
  }

  /**
   * Picks the member of a queue group that gets the next pulse: round robin, skipping full
   * queues and, with `accepts`, members that do not accept the pulse (undefined when none
   * does).
   */
  pick(
    members: readonly Subscription[],
    size: number,
    accepts?: (sub: Subscription) => boolean,
  ): Subscription | undefined {
    const group = members[0]?.spec.queueGroup ?? "";
    const start = this.#roundRobin.get(group) ?? 0;
    if (this.#roundRobin.size >= MAX_CACHED_ROUTES) this.#roundRobin.clear();
    this.#roundRobin.set(group, (start + 1) % 0x40000000);
    let fallback: Subscription | undefined;
    for (let i = 0; i < members.length; i++) {
      const sub = members[(start + i) % members.length];
      if (accepts && !accepts(sub)) continue;
      if (sub.hasRoom(size)) return sub;
      fallback ??= sub;
    }
    return fallback;
  }

  #invalidate(): void {
    this.#routes = new Map();
  }
}
