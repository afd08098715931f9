/**
 * The figures of one operator, shared by its instances and kept across replacements:
 * counters, failures by kind, and `handle` latencies (a window for the percentiles `GET`
 * shows, cumulative buckets for the Prometheus histogram).
 * @module
 */

/** Handle latencies kept for the percentiles. */
const LATENCY_SAMPLES = 1024;

/** Upper bounds of the handle latency histogram, in seconds. */
export const HANDLE_BUCKETS_S: readonly number[] = Object.freeze([
  0.00001,
  0.00005,
  0.0001,
  0.00025,
  0.0005,
  0.001,
  0.0025,
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.5,
]);

/** Counters of one operator, as `GET /v1/operators/{name}` shows them. */
export interface OperatorCounters {
  /** Input pulses handed to `handle` (failed ones included). */
  pulsesIn: number;
  /** Output pulses accepted by the bus. */
  pulsesOut: number;
  /** Input pulses that failed (every kind). */
  failures: number;
  /** Fuel used by successful `handle` calls. */
  fuelUsed: number;
  /** Output pulses dropped at the hop limit. */
  hopDrops: number;
}

/** Figures of one operator. */
export class OperatorStats {
  /** The counters. */
  readonly counters: OperatorCounters = {
    pulsesIn: 0,
    pulsesOut: 0,
    failures: 0,
    fuelUsed: 0,
    hopDrops: 0,
  };
  /** Failures by kind (`trap`, `fuel`, `memory`, `bad_result`, `refused`, `commit`, ...). */
  readonly failuresByKind: Map<string, number> = new Map();
  /** Cumulative counts per bucket of {@linkcode HANDLE_BUCKETS_S} (the last is +Inf). */
  readonly buckets: number[] = new Array(HANDLE_BUCKETS_S.length + 1).fill(0);
  /** Sum of the observed latencies, seconds. */
  latencySum = 0;
  readonly #window: number[] = [];
  #next = 0;

  /** Counts one failed pulse of `kind`. */
  fail(kind: string): void {
    this.counters.failures++;
    this.failuresByKind.set(kind, (this.failuresByKind.get(kind) ?? 0) + 1);
  }

  /** Records one `handle` latency, ms. */
  sample(ms: number): void {
    if (this.#window.length < LATENCY_SAMPLES) this.#window.push(ms);
    else this.#window[this.#next] = ms;
    this.#next = (this.#next + 1) % LATENCY_SAMPLES;
    const s = ms / 1000;
    this.latencySum += s;
    let i = 0;
    while (i < HANDLE_BUCKETS_S.length && s > HANDLE_BUCKETS_S[i]) i++;
    this.buckets[i]++;
  }

  /** p50 and p99 of `handle`, ms, over the last calls (0 when none). */
  latency(): { p50: number; p99: number } {
    const sorted = [...this.#window].sort((a, b) => a - b);
    const at = (q: number) => sorted.length === 0 ? 0 : sorted[Math.floor(q * (sorted.length - 1))];
    return { p50: at(0.5), p99: at(0.99) };
  }
}
