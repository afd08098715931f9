/**
 * How a node stops: refuse new work, let sessions drain their queues for up to the grace
 * period, close them, then close the node's parts in order (listeners before the store,
 * so nothing writes to a closed log).
 * @module
 */

/** What shutdown needs of a session. */
export interface DrainingSession {
  /** Stops taking new work and flushes what is queued. */
  startDrain(): void;
  /** True once nothing is queued for the client. */
  readonly idle: boolean;
  /** Closes the connection. */
  close(code: number, reason: string): void;
}

/** The steps of one node's shutdown. */
export interface ShutdownPlan {
  /** The live sessions (read when shutdown starts and while it waits). */
  readonly sessions: ReadonlySet<DrainingSession>;
  /** Milliseconds sessions may take to drain. */
  readonly graceMs: number;
  /** Marks the node draining: new connections and publishes are refused from now on. */
  beginDrain(): void;
  /** The node's parts, closed in this order after the sessions. */
  readonly closers: readonly (() => unknown)[];
}

/** Polling interval of the drain wait: short, because a drained node should stop at once. */
const DRAIN_POLL_MS = 10;

/** Returns the node's `shutdown`: the first call runs the plan, later calls share its promise. */
export function shutdownOnce(plan: ShutdownPlan): () => Promise<void> {
  let running: Promise<void> | null = null;
  return () => {
    running ??= (async () => {
      plan.beginDrain();
      for (const s of plan.sessions) s.startDrain();
      const deadline = Date.now() + plan.graceMs;
      while (Date.now() < deadline && [...plan.sessions].some((s) => !s.idle)) {
        await new Promise((r) => setTimeout(r, DRAIN_POLL_MS));
      }
      for (const s of [...plan.sessions]) s.close(1001, "node shutting down");
      for (const close of plan.closers) await close();
    })();
    return running;
  };
}
