/**
 * Worker side of control parameters: runs the `on-control` steps the node planned
 * (`control_feed.ts`) between the `handle` calls of a batch, and hands the set again to an
 * instance rebuilt after a trap (its linear memory, where the SDK keeps the parameters, was
 * discarded with the old one). Kept apart from the feed so the worker loads no Spine code.
 * @module
 */
import type { ControlStep } from "./control_feed.ts";

/** What the worker's sandbox offers the applier (an `OperatorSandbox`). */
export interface ControlTarget {
  /** Runs `on-control`; returns the guest's error or null; throws when it traps. */
  control(params: readonly (readonly [string, string])[]): string | null;
  /** Instances discarded so far (after traps). */
  readonly discarded: number;
}

/** Runs planned steps between `handle` calls (worker side). */
export class ControlApplier {
  #params: [string, string][] | null = null;
  #discarded = 0;

  /**
   * Before the pulse at `index`: runs the steps planned for it, or hands the last set to
   * an instance rebuilt since. Each failure is reported through `failed` (not thrown).
   */
  before(
    target: ControlTarget,
    steps: readonly ControlStep[] | undefined,
    index: number,
    failed: (message: string) => void,
  ): void {
    let ran = false;
    for (const step of steps ?? []) {
      if (step.before !== index) continue;
      this.#params = step.params;
      this.#run(target, step.params, failed);
      ran = true;
    }
    if (!ran && this.#params !== null && target.discarded !== this.#discarded) {
      this.#run(target, this.#params, failed);
    }
  }

  /** After the batch's last pulse: the steps planned past it. */
  after(
    target: ControlTarget,
    steps: readonly ControlStep[] | undefined,
    length: number,
    failed: (message: string) => void,
  ): void {
    for (const step of steps ?? []) {
      if (step.before < length) continue;
      this.#params = step.params;
      this.#run(target, step.params, failed);
    }
  }

  #run(
    target: ControlTarget,
    params: [string, string][],
    failed: (message: string) => void,
  ): void {
    try {
      const error = target.control(params);
      // The instance lives on (the SDK kept the set before the guest's onControl refused
      // it): not offered again.
      this.#discarded = target.discarded;
      if (error !== null) failed(`on-control returned an error: ${error}`);
    } catch (e) {
      // The instance was discarded: its replacement is offered the set before the next
      // pulse (a deterministic trap fails every pulse and quarantines the operator).
      failed(`on-control failed: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
}
