/**
 * Bounded concurrency with a bounded wait queue: at most `limit` tasks run at once, at
 * most `maxQueue` wait, and a task past both is refused at once (the caller answers
 * `busy`) instead of queueing without end while the upstream is slow.
 * @module
 */

/** Runs tasks at most `limit` at a time, with at most `maxQueue` waiting. */
export class Gate {
  readonly #limit: number;
  readonly #maxQueue: number;
  #running = 0;
  readonly #waiting: (() => void)[] = [];
  #head = 0;

  /** A gate of `limit` slots and `maxQueue` waiting places. */
  constructor(limit: number, maxQueue: number) {
    this.#limit = limit;
    this.#maxQueue = maxQueue;
  }

  /** Tasks running now. */
  get running(): number {
    return this.#running;
  }

  /** Tasks waiting for a slot. */
  get waiting(): number {
    return this.#waiting.length - this.#head;
  }

  /**
   * Runs `task` when a slot is free; returns `false` (and never runs it) when every slot is
   * taken and the queue is full.
   */
  run(task: () => Promise<void>): boolean {
    if (this.#running < this.#limit) {
      this.#start(task);
      return true;
    }
    if (this.waiting >= this.#maxQueue) return false;
    this.#waiting.push(() => this.#start(task));
    return true;
  }

  #start(task: () => Promise<void>): void {
    this.#running++;
    task().catch(() => {}).finally(() => {
      this.#running--;
      if (this.#head < this.#waiting.length) {
        const next = this.#waiting[this.#head++];
        if (this.#head === this.#waiting.length) {
          this.#waiting.length = 0;
          this.#head = 0;
        }
        next();
      }
    });
  }
}
