/**
 * What this client has seen, as a vector clock (docs/time.md "Vector clocks"): the
 * entry-wise maximum of the clocks of every pulse delivered to it and of its own
 * acknowledged publishes. Reported with each publish (`Publish.consumed`) so the node
 * stamps the new pulse as causally after all of them.
 * @module
 */
import { type IPulse, MAX_VCLOCK_ENTRIES, PulseView, type VectorClock } from "../protocol/mod.ts";

/** The clock of everything a client consumed; lives as long as the client. */
export class ConsumedClock {
  readonly #clock = new Map<string, number>();
  #snapshot: VectorClock | undefined;
  #changed = false;

  /** Merges a delivered pulse's clock (a `PulseView` is read without a full decode). */
  seen(pulse: IPulse): void {
    if (pulse instanceof PulseView) {
      if (pulse.mergeClockInto(this.#clock)) this.#updated();
      return;
    }
    const clock = pulse.vclock;
    if (!clock) return;
    let changed = false;
    for (const k in clock) changed = this.#raise(k, clock[k]) || changed;
    if (changed) this.#updated();
  }

  /** Merges an acknowledged publish of this client: its reality's entry. */
  published(realityId: string, sequence: number): void {
    if (realityId && sequence > 0 && this.#raise(realityId, sequence)) this.#updated();
  }

  /**
   * The clock to report with a publish, or undefined when nothing was consumed (then the
   * publish keeps the hand-encoded fast path). The same object until something changes.
   */
  report(): VectorClock | undefined {
    if (this.#changed) {
      this.#snapshot = Object.fromEntries(this.#clock);
      this.#changed = false;
    }
    return this.#snapshot;
  }

  #raise(key: string, value: number): boolean {
    const old = this.#clock.get(key);
    if (old !== undefined && old >= value) return false;
    this.#clock.set(key, value);
    return true;
  }

  // The node refuses a clock of more entries than MAX_VCLOCK_ENTRIES: the realities
  // entered first are forgotten (their pulses are the least likely still in flight).
  #updated(): void {
    this.#changed = true;
    while (this.#clock.size > MAX_VCLOCK_ENTRIES) {
      this.#clock.delete(this.#clock.keys().next().value!);
    }
  }
}
