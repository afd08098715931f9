/**
 * The state writes of a batch of input pulses merged into one change set: the last write of
 * each key wins (a delete is a write of `null`). The runner queues it once per batch, behind
 * the batch's outputs and under one hold of the group commit, instead of one state commit
 * per input pulse (docs/operators.md, "State atomicity").
 * @module
 */

/** State writes of several pulses, merged in order. */
export class StateChanges {
  readonly #last = new Map<string, Uint8Array | null>();

  /** Adds the writes of the next pulse (in its order: a later write of a key replaces). */
  add(changes: readonly (readonly [string, Uint8Array | null])[]): void {
    for (const [key, value] of changes) this.#last.set(key, value);
  }

  /** Whether no write was added. */
  get empty(): boolean {
    return this.#last.size === 0;
  }

  /** The merged writes, one per key (`null` deletes). */
  list(): [string, Uint8Array | null][] {
    return [...this.#last];
  }
}
