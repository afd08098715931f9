/**
 * An operator's committed state taken out of and put back into the store, between two
 * pulses: the snapshot `GET /v1/operators/{name}/state` returns and the restore that
 * replaces it (its running instances paused around the store's replacement).
 * @module
 */
import type { OperatorStateStore } from "../runtime/spine/mod.ts";
import type { OperatorRunner } from "./runner.ts";
import { encodeSnapshot, type OperatorSnapshot } from "./snapshot.ts";

/** The state of operator `name` of `reality` as of a pulse boundary (commits flushed first). */
export async function snapshotOf(
  store: OperatorStateStore,
  name: string,
  reality: string,
): Promise<OperatorSnapshot> {
  await store.flush();
  return encodeSnapshot(name, reality, store.loadOperatorState(reality, name));
}

/**
 * Replaces the state of operator `name` of `reality` with `entries`, atomically between two
 * pulses: `runners` (when `running`) pause, the store replaces the state behind every
 * commit queued so far, and they go on over it from their next pulse (over the stored state
 * when the replacement fails, which rejects). Resolves to the bytes restored.
 */
export async function restoreInto(
  store: OperatorStateStore,
  name: string,
  reality: string,
  runners: readonly OperatorRunner[],
  running: boolean,
  entries: [string, Uint8Array][],
): Promise<number> {
  if (running) await Promise.all(runners.map((r) => r.pause()));
  // The instances go on over the restored state, or over the stored one when the
  // restore's commit fails (their view of the paused batch is discarded either way).
  let state = entries;
  try {
    // Queued behind every commit of the pulses handled so far, in one transaction.
    await store.replaceOperatorState(reality, name, entries);
  } catch (e) {
    state = store.loadOperatorState(reality, name);
    throw e;
  } finally {
    if (running) { for (const r of runners) r.unpause(state); }
  }
  let bytes = 0;
  const encoder = new TextEncoder();
  for (const [k, v] of entries) bytes += encoder.encode(k).length + v.length;
  return bytes;
}
