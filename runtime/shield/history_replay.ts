/**
 * Feeding stored history to a subscription that starts `from_sequence` or `from_time`,
 * page by page, so the switch to live delivery has no gap and no duplicate: the caller
 * opens the live subscription first and passes `toSeq` = the reality's sequence at that
 * moment; the log is flushed so every pulse up to `toSeq` is committed before reading.
 * @module
 */
import type { DurableLog, HistoryQuery, StoredPulse } from "../spine/mod.ts";

/** Where replayed pulses go (a Spine subscription, through the session). */
export interface ReplayTarget {
  /** Takes one page of pulses in sequence order. */
  feed(pulses: readonly StoredPulse[]): void;
  /** Pulses fed but not yet delivered. */
  backlog(): number;
  /** True once the subscriber went away. */
  closed(): boolean;
}

/** Options of `replayHistory`. */
export interface ReplayOptions {
  /** Pulses read per page (default 1024). */
  readonly pageSize?: number;
  /** Pages are read only while fewer than this many pulses wait (default 4096). */
  readonly maxBacklog?: number;
}

/**
 * Replays `query` into `target`, resolving when the last page was fed (the target
 * delivers it at its own pace). Throws the log's `BusError` for an invalid query.
 */
export async function replayHistory(
  store: DurableLog,
  query: HistoryQuery,
  target: ReplayTarget,
  options: ReplayOptions = {},
): Promise<void> {
  const maxBacklog = options.maxBacklog ?? 4096;
  store.readEncoded({ ...query, limit: 0 }); // validates before anything is fed
  await store.flush();
  for await (const page of store.history(query, options.pageSize ?? 1024)) {
    if (target.closed()) return;
    target.feed(page);
    while (target.backlog() > maxBacklog && !target.closed()) {
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
  }
}
