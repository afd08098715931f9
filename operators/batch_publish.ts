/**
 * Publishing one batch the Worker answered: each input's outputs in order, through the
 * Spine (the path of a client's publish: CASIL, sequencing, routing, durability), then the
 * batch's merged state change, all under one hold of the store's group commit, so after a
 * crash either all of it is stored or none. A failed pulse fails alone; publishing stops
 * between two pulses when the runner is stopped or paused, or when an output breaks the
 * operator's card (the rest is put back for the next batch).
 * @module
 */
import type { OperatorStateStore } from "../runtime/spine/mod.ts";
import type { InFlight } from "./batch_pipeline.ts";
import type { BatchSizer } from "./batch_size.ts";
import type { OutputPublisher } from "./output_publisher.ts";
import { StateChanges } from "./state_changes.ts";
import type { OperatorStats } from "./stats.ts";
import { batchFuel, type PulseOutcome } from "./worker_protocol.ts";

/** What publishing a batch needs of its runner. */
export interface BatchRun {
  /** The operator's name. */
  readonly name: string;
  /** Its reality. */
  readonly reality: string;
  /** Fuel a pulse may burn (a pulse that ran out used all of it). */
  readonly fuelPerCall: number;
  /** Its figures. */
  readonly stats: OperatorStats;
  /** Where the state change commits. */
  readonly store: OperatorStateStore;
  /** Publishes the outputs. */
  readonly out: OutputPublisher;
  /** Told the fuel each batch used. */
  readonly sizer: BatchSizer;
  /** Whether publishing must stop before the next pulse (stopped or paused). */
  halted(): boolean;
  /** The batch's pulses from `from` on were handled but not published: handled again. */
  putBack(from: number): void;
  /** The Worker's state ran ahead of the committed one: reload it before the next batch. */
  resync(): void;
  /** Counts and reports a failed pulse. */
  fail(kind: string, message: string): void;
}

/** Publishes `entry`'s outcomes (see the module's description). */
export async function publishBatch(entry: InFlight, run: BatchRun): Promise<void> {
  const { batch, takenAt } = entry;
  let outcomes: PulseOutcome[];
  try {
    outcomes = await entry.outcomes;
  } catch (e) {
    // The state reload failed: the batch fails (the next one tries again).
    run.resync();
    outcomes = [{ ok: false, kind: "worker", message: `cannot reload the state: ${e}`, ms: 0 }];
  }
  // The outputs of the whole batch and its merged state change commit in one store
  // transaction: the hold keeps the group commit from cutting anywhere in between, so
  // after a crash either all of them are stored or none (one state commit per batch, not
  // per input pulse).
  run.sizer.observe(batchFuel(outcomes, run.fuelPerCall), outcomes.length);
  const changes = new StateChanges();
  // The last input handled: a cluster node commits it with the state (resume point).
  let handled = 0;
  const release = run.store.holdCommits();
  try {
    for (let i = 0; i < batch.length; i++) {
      if (run.halted()) {
        // Between two pulses: the rest waits for the next start (or the replacement).
        run.putBack(i);
        break;
      }
      run.stats.counters.pulsesIn++;
      const outcome: PulseOutcome = outcomes[i] ??
        { ok: false, kind: "worker", message: "the worker stopped", ms: 0 };
      run.stats.sample(outcome.ms);
      if (!outcome.ok) {
        run.fail(outcome.kind, outcome.message);
        continue;
      }
      run.stats.counters.fuelUsed += outcome.fuel;
      // Every output checked against the operator's card before any is published: a pulse
      // whose output violates it fails whole (no output, no state change), as a trap does,
      // so what subscribers saw and the committed state still agree. The worker went on
      // from its state change: the pulses it handled after this one are handled again.
      const violation = run.out.cardViolation(outcome.outputs);
      if (violation) {
        run.fail("schema", violation);
        run.putBack(i + 1);
        break;
      }
      try {
        // Synchronous unless a policy answers asynchronously: the batch's outputs then
        // reach their subscribers' outboxes in one turn (one write per subscriber).
        const published = run.out.publish(batch[i].pulse, outcome.hops, outcome.outputs);
        if (published) await published;
      } catch (e) {
        // Refused by the bus (a policy): the outputs before it stand, the rest are
        // dropped; the operator did handle the pulse, so its state change commits.
        run.fail("refused", `an output was refused: ${e instanceof Error ? e.message : e}`);
      }
      changes.add(outcome.changes);
      handled = Number(batch[i].pulse.sequence ?? 0);
      run.stats.sampleStage(performance.now() - takenAt);
    }
  } finally {
    if (!changes.empty) {
      run.store.commitOperatorState(
        run.reality,
        run.name,
        changes.list(),
        handled,
      ).catch((e) => {
        run.resync();
        run.fail("commit", `the state commit failed: ${e instanceof Error ? e.message : e}`);
      });
    }
    release();
  }
}
