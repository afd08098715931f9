/**
 * The `random-u64` stream of the host interface, as a plain generator: SplitMix64 (Steele,
 * Lea and Flood, 2014) seeded with a pulse's `entropy_seed`. Operators and policies draw
 * from it through the host import (the stream restarts for every pulse); clients in
 * lockstep draw the same numbers from this class. Specified with test vectors in
 * `docs/time.md`.
 * @module
 */

const MASK = 0xffffffffffffffffn;
/** The SplitMix64 increment (the golden ratio in 64-bit fixed point). */
const GAMMA = 0x9e3779b97f4a7c15n;

/**
 * SplitMix64 seeded with a u64: bit for bit the stream an operator's `randomU64()` draws
 * while it handles a pulse whose `entropy_seed` is `seed`.
 *
 * @example
 * ```ts
 * import { RandomU64 } from "./random.ts";
 *
 * const rng = new RandomU64(0n);
 * console.log(rng.next()); // 16294208416658607535n (0xe220a8397b1dcdaf)
 * ```
 */
export class RandomU64 {
  #state: bigint;

  /** A stream from `seed` (a u64; numbers are taken as their integer part, mod 2^64). */
  constructor(seed: bigint | number | string) {
    const s = typeof seed === "number"
      ? BigInt(Math.trunc(Number.isFinite(seed) ? seed : 0))
      : BigInt(seed);
    this.#state = BigInt.asUintN(64, s);
  }

  /** The next value, an unsigned 64-bit integer. */
  next(): bigint {
    this.#state = (this.#state + GAMMA) & MASK;
    let z = this.#state;
    z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK;
    z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK;
    return z ^ (z >> 31n);
  }

  /** The next value as a float in [0, 1) (its top 53 bits). */
  nextFloat(): number {
    return Number(this.next() >> 11n) / 2 ** 53;
  }
}
