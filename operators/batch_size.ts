/**
 * How many input pulses a runner hands its Worker in one batch: everything queued, up to a
 * cap that follows what the operator's pulses cost. Per batch the node and the Worker pay a
 * fixed price (packing, a message each way, a store hold, a state commit, a wakeup of the
 * other thread); spread over 1,024 pulses instead of 64 it fell from about a third of the
 * path's CPU per output to a tenth (bench/operators/stages.ts, bench-sum: Worker thread
 * 34 -> 20 µs, event loop 9 -> 5 µs per pulse, loaded machine). A batch is never held back to
 * fill up: a pulse arriving alone goes at once (the hop's latency).
 *
 * An expensive operator gets smaller batches: a batch's fuel stays near
 * {@linkcode BATCH_FUEL_BUDGET} (about 10 ms of `handle` calls), so a pause (a state restore)
 * or the publishing of a batch's outputs never waits behind seconds of computation. Fuel, not
 * the measured time: a Worker preempted on a busy machine would read as an expensive operator
 * and shrink its own batches just when their fixed cost matters most.
 * @module
 */

/** Most input pulses per batch. */
export const MAX_BATCH = 1024;

/**
 * The fuel a batch aims at: about 10 ms of computation (the bench's burner runs 8.7M fuel in
 * ~0.8 ms, ~11M fuel a millisecond).
 */
export const BATCH_FUEL_BUDGET = 100_000_000;

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
 * sizer.observe(4 * 9_000_000, 4); // 4 pulses used 9M fuel each
 * sizer.limit(1024); // 11
 * ```
 */
export class BatchSizer {
  /** Mean fuel of a pulse (0: not measured yet). */
  #perPulse = 0;

  /** Records that `pulses` pulses used `fuel` in all. */
  observe(fuel: number, pulses: number): void {
    if (pulses <= 0 || !(fuel >= 0)) return;
    const each = fuel / pulses;
    this.#perPulse = this.#perPulse === 0
      ? each
      : this.#perPulse + WEIGHT * (each - this.#perPulse);
  }

  /** The batch size to take now, at most `max` (at least 1). */
  limit(max: number): number {
    const per = this.#perPulse;
    if (per <= 0) return Math.max(1, max);
    return Math.max(1, Math.min(max, Math.floor(BATCH_FUEL_BUDGET / per)));
  }
}
