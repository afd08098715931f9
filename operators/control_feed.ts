/**
 * Control parameters for operators (`on-control`), in order with their input pulses: an
 * operator sees the parameter set that was current when each input pulse was sequenced.
 *
 * Node side, {@linkcode ControlFeed} plans, for each batch, which set to hand over before
 * which pulse (the set effective at the pulse's sequence, whenever it differs from the one
 * the worker has); worker side, `ControlApplier` (`control_apply.ts`) runs those steps.
 * @module
 */
import type { arqon } from "../runtime/protocol/mod.ts";
import { controlPairs, type ControlParams, type ParamSet } from "../runtime/spine/mod.ts";

/** What an operator's parameters come from (the node's `ControlParams`). */
export type ControlSource = Pick<ControlParams, "at" | "current" | "listen">;

/** Hand `params` to the operator before the pulse at index `before` of the batch. */
export interface ControlStep {
  /** Index in the batch's pulses (the batch's length: after the last one). */
  readonly before: number;
  /** The version handed over. */
  readonly version: number;
  /** (name, JSON text of the value) pairs, sorted by name. */
  readonly params: [string, string][];
}

/** Plans the `on-control` calls of one operator (node side). */
export class ControlFeed {
  readonly #source: ControlSource | undefined;
  readonly #reality: string;
  /** The version the worker last received (-1: none since it started). */
  #applied = -1;

  /** A feed of `reality`'s parameters; without a source it plans nothing. */
  constructor(source: ControlSource | undefined, reality: string) {
    this.#source = source;
    this.#reality = reality;
  }

  /** A worker (re)started: it holds no parameters. */
  reset(): void {
    this.#applied = -1;
  }

  /**
   * The current set when the worker holds another: for a worker that just started, or one
   * with no input waiting (every input sequenced so far was handled, so the current set is
   * the one the next input will need). Undefined when it already holds it.
   */
  catchUp(): ControlStep | undefined {
    const set = this.#source?.current(this.#reality);
    if (!set || this.#holds(set)) return undefined;
    return this.#step(0, set);
  }

  /** Calls `wake` (soon, not within the change) after each change of the reality's set. */
  watch(wake: () => void): () => void {
    const stop = this.#source?.listen((reality) => {
      if (reality === this.#reality) queueMicrotask(wake);
    });
    return () => stop?.();
  }

  #holds(set: ParamSet): boolean {
    // Version 0 before anything was handed over: a fresh instance has "no parameters".
    return set.version === this.#applied || (this.#applied === -1 && set.version === 0);
  }

  /** The steps that give each pulse of `batch` the set effective at its sequence. */
  plan(batch: readonly arqon.v1.IPulse[]): ControlStep[] {
    const source = this.#source;
    if (!source) return [];
    const steps: ControlStep[] = [];
    for (let i = 0; i < batch.length; i++) {
      const set = source.at(this.#reality, Number(batch[i].sequence ?? 0));
      if (this.#holds(set)) continue;
      steps.push(this.#step(i, set));
    }
    return steps;
  }

  #step(before: number, set: ParamSet): ControlStep {
    this.#applied = set.version;
    return { before, version: set.version, params: controlPairs(set) };
  }
}
