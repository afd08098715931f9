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
  /** Inputs its card's `input_schema` refused before `handle` (not failures). */
  inputRefusals: number;
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
    inputRefusals: 0,
  };
  /** Failures by kind (the sandbox's trap kinds `fuel_exhausted`, `memory_cap`, `stack_overflow`, `unreachable`, `trap`, `bad_result`; and `refused`, `commit`, `worker`). */
  readonly failuresByKind: Map<string, number> = new Map();
  /** Cumulative counts per bucket of {@linkcode HANDLE_BUCKETS_S} (the last is +Inf). */
  readonly buckets: number[] = new Array(HANDLE_BUCKETS_S.length + 1).fill(0);
  /** Sum of the observed latencies, seconds. */
  latencySum = 0;
  readonly #window: number[] = [];
  #next = 0;
  /** Stage latencies (input taken off its queue -> its outputs accepted), ms. */
  readonly #stage: number[] = [];
  #stageNext = 0;

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

  /**
   * Records how long one input took from leaving its queue to its outputs being accepted
   * by the bus (the worker round trip and the publishes around `handle`), ms: circuits
   * show it per hop.
   */
  sampleStage(ms: number): void {
    if (this.#stage.length < LATENCY_SAMPLES) this.#stage.push(ms);
    else this.#stage[this.#stageNext] = ms;
    this.#stageNext = (this.#stageNext + 1) % LATENCY_SAMPLES;
  }

  /** p50 and p99 of the stage latency, ms, over the last inputs (0 when none). */
  stageLatency(): { p50: number; p99: number } {
    return percentiles(this.#stage);
  }

  /** p50 and p99 of `handle`, ms, over the last calls (0 when none). */
  latency(): { p50: number; p99: number } {
    return percentiles(this.#window);
  }
}

function percentiles(window: readonly number[]): { p50: number; p99: number } {
  const sorted = [...window].sort((a, b) => a - b);
  const at = (q: number) => sorted.length === 0 ? 0 : sorted[Math.floor(q * (sorted.length - 1))];
  return { p50: at(0.5), p99: at(0.99) };
}
