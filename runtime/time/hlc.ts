/**
 * Hybrid logical clock (Kulkarni et al.): physical milliseconds plus a logical counter,
 * so timestamps stay monotonic when the wall clock stalls or steps back, and stay close
 * to real time for `from_time` replay.
 * @module
 */
import type { IHlcTimestamp } from "../protocol/mod.ts";

/** A monotonic hybrid logical clock; one per node, lives as long as the node. */
export class HybridClock {
  #wallMs = 0;
  #logical = 0;
  readonly #now: () => number;

  /** `now` supplies physical time in ms (injectable for tests of clock steps). */
  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  /** The next timestamp: strictly greater than every one issued or observed before. */
  tick(): IHlcTimestamp {
    const physical = this.#now();
    if (physical > this.#wallMs) {
      this.#wallMs = physical;
      this.#logical = 0;
    } else {
      this.#logical++;
    }
    return { wallMs: this.#wallMs, logical: this.#logical };
  }

  /** Merges a timestamp received from elsewhere, so later ticks order after it. */
  observe(remote: IHlcTimestamp): void {
    const wall = remote.wallMs ?? 0;
    const logical = remote.logical ?? 0;
    if (wall > this.#wallMs || (wall === this.#wallMs && logical > this.#logical)) {
      this.#wallMs = wall;
      this.#logical = logical;
    }
  }
}

/** Orders two HLC timestamps: negative, zero or positive. */
export function compareHlc(a: IHlcTimestamp, b: IHlcTimestamp): number {
  return (a.wallMs ?? 0) - (b.wallMs ?? 0) || (a.logical ?? 0) - (b.logical ?? 0);
}
