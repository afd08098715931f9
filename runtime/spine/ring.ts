/**
 * A growable ring buffer: the FIFO behind every subscription queue. Dropping from the
 * head clears the slot at once, so what a queue holds is exactly what it counts: its
 * memory follows its bounds at every moment, whatever the reader does.
 * @module
 */

const MIN_CAPACITY = 16;
// An emptied queue larger than this goes back to the minimum: a burst's slots are freed.
const SHRINK_ABOVE = 1024;

/**
 * A FIFO of `T` on a power-of-two circular array that doubles when full; push, shift and
 * drop are O(1) amortized. Its slot array never holds more than twice the largest number
 * of items it held at one time.
 *
 * @example
 * ```ts
 * const q = new Ring<number>();
 * q.push(1);
 * q.push(2);
 * q.shift(); // 1
 * q.length; // 1
 * ```
 */
export class Ring<T> {
  #slots: (T | undefined)[] = new Array(MIN_CAPACITY);
  #head = 0;
  #length = 0;

  /** Items held. */
  get length(): number {
    return this.#length;
  }

  /** Length of the slot array: what the ring costs, whatever it holds. */
  get capacity(): number {
    return this.#slots.length;
  }

  /** The oldest item, or undefined when empty. */
  peek(): T | undefined {
    return this.#length > 0 ? this.#slots[this.#head] : undefined;
  }

  /** Appends an item at the tail. */
  push(item: T): void {
    if (this.#length === this.#slots.length) this.#grow();
    this.#slots[(this.#head + this.#length) & (this.#slots.length - 1)] = item;
    this.#length++;
  }

  /** Removes and returns the oldest item (undefined when empty). */
  shift(): T | undefined {
    if (this.#length === 0) return undefined;
    const item = this.#slots[this.#head];
    this.#slots[this.#head] = undefined; // the item is released now, not at the next take
    this.#head = (this.#head + 1) & (this.#slots.length - 1);
    if (--this.#length === 0) this.#reset();
    return item;
  }

  /** Removes up to `n` oldest items into a new array, in order. */
  take(n: number): T[] {
    const count = Math.min(n, this.#length);
    const out = new Array<T>(count);
    const mask = this.#slots.length - 1;
    let at = this.#head;
    for (let i = 0; i < count; i++) {
      out[i] = this.#slots[at] as T;
      this.#slots[at] = undefined;
      at = (at + 1) & mask;
    }
    this.#head = at;
    this.#length -= count;
    if (this.#length === 0) this.#reset();
    return out;
  }

  /** Empties the ring and frees its slots. */
  clear(): void {
    this.#slots = new Array(MIN_CAPACITY);
    this.#head = 0;
    this.#length = 0;
  }

  #reset(): void {
    this.#head = 0;
    if (this.#slots.length > SHRINK_ABOVE) this.#slots = new Array(MIN_CAPACITY);
  }

  #grow(): void {
    const old = this.#slots;
    const slots = new Array<T | undefined>(old.length * 2);
    for (let i = 0; i < this.#length; i++) slots[i] = old[(this.#head + i) & (old.length - 1)];
    this.#slots = slots;
    this.#head = 0;
  }
}
