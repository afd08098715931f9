/**
 * The deterministic randomness of the host interface's `random-u64`: a splitmix64 stream
 * seeded from the pulse's `entropy_seed`, restarted for every pulse, so a replayed pulse
 * draws the same values.
 * @module
 */

/** A u64 input as BigInt; numbers that are not integers count as their integer part, NaN as 0. */
export function toBigInt(v: bigint | number): bigint {
  if (typeof v === "bigint") return v;
  return Number.isFinite(v) ? BigInt(Math.trunc(v)) : 0n;
}

/** A splitmix64 stream, seeded lazily (most pulses never draw). */
export class PulseRandom {
  #state = 0n;
  #seed: bigint | number = 0;
  #seeded = false;

  /** Restarts the stream from `seed` (converted only when the guest draws). */
  reset(seed: bigint | number): void {
    this.#seed = seed;
    this.#seeded = false;
  }

  /** The next value, as the signed i64 the core ABI returns. */
  next(): bigint {
    if (!this.#seeded) {
      this.#state = BigInt.asUintN(64, toBigInt(this.#seed));
      this.#seeded = true;
    }
    this.#state = (this.#state + 0x9e3779b97f4a7c15n) & 0xffffffffffffffffn;
    let z = this.#state;
    z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & 0xffffffffffffffffn;
    z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & 0xffffffffffffffffn;
    return BigInt.asIntN(64, z ^ (z >> 31n));
  }
}
