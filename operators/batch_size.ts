/**
 * How many input pulses a runner hands its Worker in one batch: everything queued, up to a
 * cap that follows what the operator's pulses cost. Per batch the node and the Worker pay a
 * fixed price (packing, a message each way, a store hold, a state commit, a wakeup of the
 * other thread); spread over 1,024 pulses instead of 64 it fell from about a third of the
 * path's CPU per output to a tenth (bench/operators/stages.ts, bench-sum: Worker thread
 * 34 -> 20 µs, event loop 9 -> 5 µs per pulse, loaded machine). A batch is never held back to
 * fill up: a pulse arriving alone goes at once (the hop's latency).
 *
 * An expensive operator gets smaller batches: a batch's computation stays near
 * {@linkcode BATCH_BUDGET_MS}, so a pause (a state restore) or the publishing of a batch's
 * outputs never waits behind seconds of `handle` calls.
 * @module
 */

/** Most input pulses per batch. */
export const MAX_BATCH = 1024;

/** The Worker time a batch aims at, ms. */
export const BATCH_BUDGET_MS = 10;

/** Weight of the newest batch in the running mean of a pulse's cost. */
const WEIGHT = 0.25;

/**
 * The running cost of a pulse and the batch size it allows.
 *
 * @example
 * ```ts
 * import { BatchSizer } from "./batch_size.ts";
 * const sizer = new BatchSizer();
 * sizer.limit(1024); // 1024: nothing measured yet
 * sizer.observe(0.5, 4); // 4 pulses took 0.5 ms in all
 * sizer.limit(1024) < 1024; // true: ~0.125 ms a pulse allows 80
 * ```
 */
export class BatchSizer {
  /** Mean `handle` time of a pulse, ms (0: not measured yet). */
  #perPulseMs = 0;

  /** Records that `pulses` pulses took `ms` in all (their `handle` times). */
  observe(ms: number, pulses: number): void {
    if (pulses <= 0 || !(ms >= 0)) return;
    const each = ms / pulses;
    this.#perPulseMs = this.#perPulseMs === 0
      ? each
      : this.#perPulseMs + WEIGHT * (each - this.#perPulseMs);
  }

  /** The batch size to take now, at most `max` (at least 1). */
  limit(max: number): number {
    const per = this.#perPulseMs;
    if (per <= 0) return Math.max(1, max);
    return Math.max(1, Math.min(max, Math.floor(BATCH_BUDGET_MS / per)));
  }
}
