/**
 * What the Spine does for semantic anycast, kept beside it: validates anycast targets and
 * registrations against each reality's declared dimension, holds every reality's
 * `AnycastRegistry`, chooses the receivers of an anycast pulse before it is sequenced, and
 * queues it to them with what matched.
 * @module
 */
import { BusError } from "../protocol/mod.ts";
import { type AnycastChoice, type AnycastLimits, AnycastRegistry } from "./anycast.ts";
import { checkedK, checkedMinScore, scaleInto, unitScale, unitVector } from "./anycast_vector.ts";
import type { PendingInboxes } from "./inbox.ts";
import type { Reality } from "./reality.ts";
import type { StampedPulse } from "./stamped.ts";
import type { Subscription } from "./subscription.ts";

export type { AnycastChoice };

/** An anycast target as the Spine takes it (`Publish.anycast`, or a typed array in process). */
export interface AnycastTarget {
  /** The query embedding, of the reality's dimension. */
  readonly vector?: ArrayLike<number> | null;
  /** Subscribers wanted, 1..32 (0 or unset: 1). */
  readonly k?: number | null;
}

/**
 * A validated anycast target: the query vector as given, the factor that makes it unit
 * length, and how many subscribers it wants. The vector is not copied: it is read again
 * when the receivers are chosen (after the policy chain), scaled into a buffer of the
 * Spine's, so a pulse allocates no vector of its own.
 */
export interface AnycastQuery {
  /** The query as given: the reality's dimension, finite, not zero. */
  readonly vector: ArrayLike<number>;
  /** 1 / the vector's norm: `vector` times it is the unit query. */
  readonly scale: number;
  /** Subscribers wanted. */
  readonly k: number;
}

/** Embeddings a subscription registers for anycast (from its frame or its client's card). */
export interface AnycastInput {
  /** Capability embeddings, each of the reality's dimension. */
  readonly vectors: readonly ArrayLike<number>[];
  /** Least cosine similarity a pulse must reach. @default {0} */
  readonly minScore?: number;
  /**
   * The vectors come from the client's card, not the frame: in a reality of another
   * dimension (or none) the subscription is simply no anycast target.
   * @default {false}
   */
  readonly fromCard?: boolean;
}

/** Semantic anycast of one Spine, across its realities. */
export class SpineAnycast {
  readonly #limits: AnycastLimits;
  readonly #registries = new Map<string, AnycastRegistry>();
  // The unit query of the choice under way, by dimension (choices are synchronous).
  readonly #units = new Map<number, Float32Array>();

  /**
   * The embedding dimension a reality declares (0: none, anycast refused there). The node
   * reads the reality's `limits.anycastDim`, else `--anycast-dim`.
   */
  dimension: (realityId: string) => number = () => 0;

  readonly #onLimit: (limit: string) => void;

  /**
   * Anycast under `limits` (unset ones take the defaults of `--anycast-*`); `onLimit` is
   * told each refusal by a bound (`anycast_max_per_subscription`, `anycast_max_per_reality`).
   */
  constructor(limits: Partial<AnycastLimits> = {}, onLimit: (limit: string) => void = () => {}) {
    this.#onLimit = onLimit;
    this.#limits = {
      maxPerSubscription: limits.maxPerSubscription || 16,
      maxPerReality: limits.maxPerReality || 100_000,
      exactMax: limits.exactMax ?? 64,
    };
  }

  /** The registrations of a reality (created on first use). */
  of(realityId: string): AnycastRegistry {
    let r = this.#registries.get(realityId);
    if (!r) this.#registries.set(realityId, r = new AnycastRegistry(this.#limits));
    return r;
  }

  /** Checks a target against the reality's dimension (INVALID_ARGUMENT when it fails). */
  query(realityId: string, target: AnycastTarget): AnycastQuery {
    const k = checkedK(target.k);
    const dim = this.dimension(realityId);
    const vector = target.vector ?? [];
    return { vector, scale: unitScale(vector, dim, "vector"), k };
  }

  /** The receivers of an anycast pulse on `topic`; NO_RESPONDERS when none qualifies. */
  choose(reality: Reality, topic: string, query: AnycastQuery): AnycastChoice[] {
    const dim = query.vector.length;
    let unit = this.#units.get(dim);
    if (!unit) {
      // One buffer per dimension in use (a few): dropped all at once past 8.
      if (this.#units.size >= 8) this.#units.clear();
      this.#units.set(dim, unit = new Float32Array(dim));
    }
    scaleInto(query.vector, query.scale, unit);
    const chosen = this.of(reality.id).choose(reality.route(topic), unit, query.k);
    if (chosen.length === 0) {
      throw new BusError(
        "NO_RESPONDERS",
        `no anycast subscriber of '${topic}' in reality '${reality.id}' ` +
          "matches the vector above its min_score",
      );
    }
    return chosen;
  }

  /** Queues an accepted anycast pulse to its receivers; a request's receivers may reply. */
  route(stamped: StampedPulse, chosen: readonly AnycastChoice[], inboxes: PendingInboxes): void {
    const replyTo = stamped.pulse.replyTo;
    const responders = replyTo ? inboxes.responders(replyTo) : undefined;
    const matches = stamped.anycast = new Map();
    for (const c of chosen) matches.set(c.sub, c.match);
    for (const c of chosen) {
      responders?.add(c.sub.owner);
      c.sub.offer(stamped);
    }
  }

  /**
   * Registers a new subscription's embeddings (before the trie takes it, so a refusal
   * leaves nothing behind). Card embeddings of another dimension register nothing.
   */
  register(sub: Subscription, input: AnycastInput): void {
    const realityId = sub.spec.realityId;
    const dim = this.dimension(realityId);
    if (input.fromCard && (dim === 0 || input.vectors.some((v) => v.length !== dim))) return;
    const max = this.#limits.maxPerSubscription;
    if (input.vectors.length > max) {
      this.#onLimit("anycast_max_per_subscription");
      throw new BusError(
        "INVALID_ARGUMENT",
        `anycast: at most ${max} vectors per subscription, got ${input.vectors.length}`,
      );
    }
    const units = input.vectors.map((v, i) => unitVector(v, dim, `vectors[${i}]`));
    try {
      this.of(realityId).register(sub, units, checkedMinScore(input.minScore), dim);
    } catch (err) {
      if (err instanceof BusError && err.code === "QUOTA_EXCEEDED") {
        this.#onLimit("anycast_max_per_reality");
      }
      throw err;
    }
  }

  /** Forgets a closed subscription's embeddings at once. */
  unregister(sub: Subscription): void {
    this.#registries.get(sub.spec.realityId)?.unregister(sub);
  }
}
