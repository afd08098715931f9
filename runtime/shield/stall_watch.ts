/**
 * Resumes sessions whose socket buffer was over the high-water mark. WebSocket has no
 * drain event, and under a publish flood Deno's timers can starve behind socket reads
 * for hundreds of milliseconds, so every received message also re-checks the stalled
 * sessions (a timer remains the fallback when the node is otherwise idle).
 * @module
 */

/** Something that can resume writing once its buffer drained. */
export interface Resumable {
  /** Resumes and returns true when the buffer is back under the high-water mark. */
  resumeIfDrained(): boolean;
}

/** The node's set of stalled sessions; lives as long as the node. */
export class StallWatch {
  readonly #stalled = new Set<Resumable>();

  /** Number of stalled sessions. */
  get size(): number {
    return this.#stalled.size;
  }

  /** Registers a stalled session. */
  add(session: Resumable): void {
    this.#stalled.add(session);
  }

  /** Forgets a session (resumed or closed). */
  delete(session: Resumable): void {
    this.#stalled.delete(session);
  }

  /** Re-checks every stalled session; cheap when none is stalled. */
  poll(): void {
    if (this.#stalled.size === 0) return;
    for (const s of this.#stalled) if (s.resumeIfDrained()) this.#stalled.delete(s);
  }
}
