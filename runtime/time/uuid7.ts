/**
 * UUIDv7 (RFC 9562) generation for pulse ids. Written here rather than taken from the
 * `uuid` package because it sits on the per-pulse hot path: a pooled random source and a
 * lookup-table hex encoder make it several times cheaper, and the 12-bit `rand_a` field is
 * used as a counter (RFC 9562 §6.2, method 1) so ids from one node sort in issue order.
 * @module
 */

const HEX: string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));
const POOL_SIZE = 8192;

/** A UUIDv7 generator; ids it returns are strictly increasing as strings. */
export class Uuid7Generator {
  #pool = new Uint8Array(POOL_SIZE);
  #poolPos = POOL_SIZE;
  #lastMs = -1;
  #counter = 0;
  readonly #now: () => number;

  /** `now` supplies Unix time in ms. */
  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  #random(n: number): number {
    if (this.#poolPos + n > POOL_SIZE) {
      crypto.getRandomValues(this.#pool);
      this.#poolPos = 0;
    }
    const at = this.#poolPos;
    this.#poolPos += n;
    return at;
  }

  /** Returns a new id, e.g. `019a3f4e-8b2c-7000-8a1b-2c3d4e5f6a7b`. */
  next(): string {
    let ms = this.#now();
    if (ms > this.#lastMs) {
      this.#lastMs = ms;
      // Start each millisecond at a random point of the lower half, leaving room to count.
      const r = this.#random(2);
      this.#counter = ((this.#pool[r] << 8) | this.#pool[r + 1]) & 0x7ff;
    } else {
      ms = this.#lastMs;
      if (++this.#counter > 0xfff) {
        // Counter exhausted within one ms: borrow the next millisecond.
        ms = ++this.#lastMs;
        this.#counter = 0;
      }
    }
    const p = this.#pool;
    const r = this.#random(8);
    const hi = Math.floor(ms / 0x1000000);
    const lo = ms % 0x1000000;
    const c = this.#counter;
    return HEX[(hi >>> 16) & 0xff] + HEX[(hi >>> 8) & 0xff] + HEX[hi & 0xff] +
      HEX[(lo >>> 16) & 0xff] + "-" + HEX[(lo >>> 8) & 0xff] + HEX[lo & 0xff] + "-" +
      HEX[0x70 | (c >>> 8)] + HEX[c & 0xff] + "-" + HEX[0x80 | (p[r] & 0x3f)] + HEX[p[r + 1]] +
      "-" + HEX[p[r + 2]] + HEX[p[r + 3]] + HEX[p[r + 4]] + HEX[p[r + 5]] + HEX[p[r + 6]] +
      HEX[p[r + 7]];
  }
}

/** Reads the Unix ms timestamp out of a UUIDv7 string. */
export function uuid7Time(id: string): number {
  return parseInt(id.slice(0, 8) + id.slice(9, 13), 16);
}
