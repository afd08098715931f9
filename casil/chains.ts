/**
 * Which installed policies run for a (reality, topic), in order: computed from the bindings
 * on first use and cached until the installed set changes. The cache is bounded, since
 * realities and topics are chosen by clients.
 * @module
 */
import { bindingMatches } from "./bindings.ts";
import type { PolicyStats } from "./metrics.ts";
import type { PolicySandbox } from "./policy_sandbox.ts";
import type { PolicyRecord } from "./store.ts";

/** One installed policy as the engine holds it. */
export interface Installed {
  readonly record: PolicyRecord;
  /** Hot-path counters of this policy name. */
  readonly stats: PolicyStats;
  /** Null when the policy could not be loaded: its pulses are denied. */
  readonly sandbox: PolicySandbox | null;
  /** Why it could not be loaded. */
  readonly problem?: string;
}

// (reality, topic) chains cached at most; past it the cache starts over.
const MAX_CACHED_CHAINS = 10_000;

/** The policy chains of one installed set, by reality then topic. */
export class ChainCache {
  readonly #policies: ReadonlyMap<string, Installed>;
  #chains = new Map<string, Map<string, Installed[]>>();
  #count = 0;
  /** The last (reality, topic) asked for and its chain: a message's pulses share them. */
  #lastReality = "";
  #lastTopic: string | null = null;
  #lastChain: Installed[] = [];

  /** A cache over `policies`, which must not change (a new set gets a new cache). */
  constructor(policies: ReadonlyMap<string, Installed>) {
    this.#policies = policies;
  }

  /** The policies bound to (reality, topic), by `order` then name. */
  chain(reality: string, topic: string): Installed[] {
    if (topic === this.#lastTopic && reality === this.#lastReality) return this.#lastChain;
    const chain = this.#lookup(reality, topic);
    this.#lastReality = reality;
    this.#lastTopic = topic;
    this.#lastChain = chain;
    return chain;
  }

  #lookup(reality: string, topic: string): Installed[] {
    let byTopic = this.#chains.get(reality);
    if (!byTopic) this.#chains.set(reality, byTopic = new Map());
    let chain = byTopic.get(topic);
    if (!chain) {
      chain = [...this.#policies.values()]
        .filter((p) => bindingMatches(p.record.binding, reality, topic))
        .sort((a, b) =>
          a.record.binding.order - b.record.binding.order ||
          (a.record.name < b.record.name ? -1 : 1)
        );
      if (++this.#count > MAX_CACHED_CHAINS) {
        this.#chains = new Map([[reality, byTopic = new Map()]]);
        this.#count = 1;
      }
      byTopic.set(topic, chain);
    }
    return chain;
  }
}
