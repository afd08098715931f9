/**
 * Rates from counters: the dashboard polls `/metrics` and keeps, per series, the rate
 * between consecutive readings over a sliding window (the charts' last minutes).
 * @module
 */

/** Rates of many counters, sampled together, over a window. */
export class RateWindow {
  /** Seconds since the epoch of each kept reading after the first. */
  readonly times: number[] = [];
  readonly #rates = new Map<string, number[]>();
  readonly #last = new Map<string, number>();
  #lastTime: number | undefined;
  readonly #maxPoints: number;

  /** Keeps at most `maxPoints` rates per series (e.g. 300 readings a second apart: 5 min). */
  constructor(maxPoints = 300) {
    this.#maxPoints = maxPoints;
  }

  /**
   * Adds one reading of every counter, taken at `timeMs`. A counter seen for the first time
   * starts at rate 0 (its earlier history is unknown); one that went down (the node
   * restarted) counts from 0 again.
   */
  add(timeMs: number, counters: ReadonlyMap<string, number>): void {
    const previous = this.#lastTime;
    // A reading older than the last one (a slow poll answered late) says nothing new.
    if (previous !== undefined && timeMs <= previous) return;
    this.#lastTime = timeMs;
    if (previous === undefined) {
      for (const [k, v] of counters) this.#last.set(k, v);
      return;
    }
    const seconds = (timeMs - previous) / 1000;
    const filled = this.times.length;
    this.times.push(timeMs / 1000);
    for (const [key, value] of counters) {
      const before = this.#last.get(key);
      this.#last.set(key, value);
      let series = this.#rates.get(key);
      if (!series) this.#rates.set(key, series = new Array(filled).fill(0));
      const delta = before === undefined ? 0 : value >= before ? value - before : value;
      series.push(delta / seconds);
    }
    for (const [key, series] of this.#rates) {
      if (!counters.has(key)) series.push(0);
    }
    if (this.times.length > this.#maxPoints) {
      const cut = this.times.length - this.#maxPoints;
      this.times.splice(0, cut);
      for (const series of this.#rates.values()) series.splice(0, cut);
    }
  }

  /** The series' rates, aligned with `times` (zeros for an unknown series). */
  series(key: string): number[] {
    return this.#rates.get(key) ?? new Array(this.times.length).fill(0);
  }

  /** The latest rate of a series, per second (0 before two readings). */
  latest(key: string): number {
    return this.#rates.get(key)?.at(-1) ?? 0;
  }

  /** The names of the series seen so far. */
  keys(): string[] {
    return [...this.#rates.keys()];
  }
}
