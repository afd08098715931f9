/**
 * One change at a time per key: the operator host runs the changes to one operator
 * (install, stop, restore, ...) in the order they were asked for, and changes to different
 * operators concurrently.
 * @module
 */

/**
 * Chains of work by key.
 *
 * @example
 * ```ts
 * import { KeyedSerial } from "./serial.ts";
 * const serial = new KeyedSerial();
 * const order: number[] = [];
 * await Promise.all([
 *   serial.run("a", async () => { await new Promise((r) => setTimeout(r, 5)); order.push(1); }),
 *   serial.run("a", async () => { order.push(2); }),
 * ]);
 * // order is [1, 2]
 * ```
 */
export class KeyedSerial {
  readonly #tails = new Map<string, Promise<unknown>>();

  /** Runs `fn` after the work queued for `key` so far settled (whether it failed or not). */
  run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const before = this.#tails.get(key) ?? Promise.resolve();
    const run = before.then(fn, fn);
    const tail = run.catch(() => {});
    this.#tails.set(key, tail);
    void tail.then(() => {
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    });
    return run;
  }
}
