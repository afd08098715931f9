/**
 * Publish rate limits: token buckets for pulses/s and bytes/s, per connection and per
 * reality. A pulse passes only when all four buckets have room; otherwise nothing is
 * taken, so a refused pulse does not eat into anyone's allowance.
 * @module
 */
import { type Clock, TokenBucket } from "./token_bucket.ts";

/** Limits of one scope. Omitted or 0 means unlimited. */
export interface RateLimit {
  readonly pulsesPerSecond?: number;
  readonly bytesPerSecond?: number;
  /** Burst as a multiple of one second's rate; default 1. */
  readonly burstSeconds?: number;
}

/** Rate limits of a node. */
export interface RateLimitConfig {
  readonly perConnection?: RateLimit;
  readonly perReality?: RateLimit;
  /** Overrides of `perReality` for named realities. */
  readonly realities?: Readonly<Record<string, RateLimit>>;
}

/** Why a pulse was refused. */
export interface RateRefusal {
  readonly code: "RATE_LIMITED";
  readonly scope: "connection" | "reality";
  readonly unit: "pulses" | "bytes";
  readonly message: string;
  /** When the client may retry with a fair chance. */
  readonly retryAfterMs: number;
}

/** Called for each refusal; the Shield turns it into a metric. */
export type RateRefusalListener = (realityId: string, refusal: RateRefusal) => void;

class Pair {
  readonly pulses: TokenBucket;
  readonly bytes: TokenBucket;
  constructor(limit: RateLimit | undefined, clock: Clock) {
    const burst = limit?.burstSeconds ?? 1;
    const p = limit?.pulsesPerSecond ?? 0;
    const b = limit?.bytesPerSecond ?? 0;
    this.pulses = new TokenBucket(p, p * burst, clock);
    this.bytes = new TokenBucket(b, b * burst, clock);
  }
}

/** The node-wide limiter; hands out one `ConnectionRateLimiter` per connection. */
export class RateLimiter {
  readonly #config: RateLimitConfig;
  readonly #clock: Clock;
  readonly #realities = new Map<string, Pair>();
  readonly #listener?: RateRefusalListener;

  /** Creates the limiter; `clock` is for tests. */
  constructor(config: RateLimitConfig, listener?: RateRefusalListener, clock?: Clock) {
    this.#config = config;
    this.#clock = clock ?? performance.now.bind(performance);
    this.#listener = listener;
  }

  /** A limiter for one new connection. */
  forConnection(): ConnectionRateLimiter {
    return new ConnectionRateLimiter(
      this,
      new Pair(this.#config.perConnection, this.#clock),
    );
  }

  /** @internal The limiter's clock, read once per admitted pulse. */
  now(): number {
    return this.#clock();
  }

  /** @internal */
  reality(realityId: string): Pair {
    let pair = this.#realities.get(realityId);
    if (!pair) {
      const limit = this.#config.realities?.[realityId] ?? this.#config.perReality;
      pair = new Pair(limit, this.#clock);
      this.#realities.set(realityId, pair);
    }
    return pair;
  }

  /** @internal */
  refused(realityId: string, refusal: RateRefusal): RateRefusal {
    this.#listener?.(realityId, refusal);
    return refusal;
  }
}

/** Rate limits of one connection (and the realities it publishes to). */
export class ConnectionRateLimiter {
  readonly #node: RateLimiter;
  readonly #own: Pair;
  #lastReality = "";
  #lastPair?: Pair;

  /** @internal Use `RateLimiter.forConnection`. */
  constructor(node: RateLimiter, own: Pair) {
    this.#node = node;
    this.#own = own;
  }

  /** Admits a pulse of `bytes` to `realityId`: undefined when admitted, else the refusal. */
  admit(realityId: string, bytes: number): RateRefusal | undefined {
    // Connections mostly publish to one reality: skip the map lookup for it.
    let reality = this.#lastPair;
    if (reality === undefined || this.#lastReality !== realityId) {
      reality = this.#node.reality(realityId);
      this.#lastReality = realityId;
      this.#lastPair = reality;
    }
    const own = this.#own;
    const now = this.#node.now();
    if (!own.pulses.tryTake(1, now)) {
      return this.#refuse(realityId, "connection", "pulses", own.pulses, 1);
    }
    if (!own.bytes.tryTake(bytes, now)) {
      own.pulses.refund(1);
      return this.#refuse(realityId, "connection", "bytes", own.bytes, bytes);
    }
    if (!reality.pulses.tryTake(1, now)) {
      own.pulses.refund(1);
      own.bytes.refund(bytes);
      return this.#refuse(realityId, "reality", "pulses", reality.pulses, 1);
    }
    if (!reality.bytes.tryTake(bytes, now)) {
      own.pulses.refund(1);
      own.bytes.refund(bytes);
      reality.pulses.refund(1);
      return this.#refuse(realityId, "reality", "bytes", reality.bytes, bytes);
    }
    return undefined;
  }

  #refuse(
    realityId: string,
    scope: RateRefusal["scope"],
    unit: RateRefusal["unit"],
    bucket: TokenBucket,
    n: number,
  ): RateRefusal {
    const name = scope === "reality" ? `reality "${realityId || "default"}"` : "connection";
    const per = unit === "pulses" ? "pulses/s" : "bytes/s";
    return this.#node.refused(realityId, {
      code: "RATE_LIMITED",
      scope,
      unit,
      message: `${name} over its limit of ${bucket.rate} ${per}`,
      retryAfterMs: bucket.waitMs(n),
    });
  }
}
