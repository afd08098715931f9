/**
 * A token bucket: `rate` tokens per second refill up to `burst`. Refill is computed
 * lazily from the clock on each take, so an idle bucket costs nothing.
 * @module
 */

/** A monotonic clock in milliseconds. */
export type Clock = () => number;

/** One rate limit. `rate <= 0` or `Infinity` means unlimited. */
export class TokenBucket {
  /** Tokens added per second. */
  readonly rate: number;
  /** Most tokens the bucket holds: the largest burst allowed after idling. */
  readonly burst: number;
  readonly #clock: Clock;
  #tokens: number;
  #last: number;

  /** Starts full. `burst` defaults to one second's worth of `rate`. */
  constructor(
    rate: number,
    burst: number = rate,
    clock: Clock = performance.now.bind(performance),
  ) {
    this.rate = rate;
    this.burst = Math.max(burst, 1);
    this.#clock = clock;
    this.#tokens = this.burst;
    this.#last = clock();
  }

  /** True when the bucket never limits. */
  get unlimited(): boolean {
    return !(this.rate > 0) || this.rate === Infinity;
  }

  /**
   * Takes `n` tokens if available and returns true; otherwise takes none. `now` lets a
   * caller checking several buckets read the clock once.
   */
  tryTake(n = 1, now?: number): boolean {
    if (this.unlimited) return true;
    this.#refill(now ?? this.#clock());
    if (this.#tokens < n) return false;
    this.#tokens -= n;
    return true;
  }

  /** Gives back tokens taken by a `tryTake` whose companion limit then refused. */
  refund(n: number): void {
    if (!this.unlimited) this.#tokens = Math.min(this.burst, this.#tokens + n);
  }

  /** Milliseconds until `n` tokens are available (0 when they are now). */
  waitMs(n = 1): number {
    if (this.unlimited) return 0;
    this.#refill(this.#clock());
    const missing = Math.min(n, this.burst) - this.#tokens;
    return missing <= 0 ? 0 : Math.ceil((missing / this.rate) * 1000);
  }

  #refill(now: number): void {
    const elapsed = now - this.#last;
    if (elapsed > 0) {
      this.#tokens = Math.min(this.burst, this.#tokens + (elapsed * this.rate) / 1000);
      this.#last = now;
    }
  }
}
