/**
 * The batches an operator's runner has sent to its Worker and not yet published, in the
 * order they were taken. Keeping two in flight lets the Worker compute the next batch while
 * the node publishes the outputs of the previous one (with one, the Worker idled during
 * every publish and the node during every `handle`: docs/operators.md, "Performance").
 *
 * The Worker's state runs ahead of what is published: when publishing stops between two
 * pulses (a stop, a pause, an output refused by the card), the pulses the Worker handled but
 * the node did not publish are put back, in order, to be handled again over the committed
 * state ({@linkcode BatchPipeline.putBack}).
 * @module
 */
import type { StampedPulse } from "../runtime/spine/mod.ts";
import type { PulseOutcome } from "./worker_protocol.ts";

/**
 * Batches in flight per instance. Two overlap the Worker's `handle` with the node's
 * publishing; more only add latency (the Worker is single-threaded).
 * @default 2
 */
export const PIPELINE_DEPTH = 2;

/** One batch sent to the Worker. */
export interface InFlight {
  /** Its input pulses, in order (empty: a control step alone). */
  readonly batch: StampedPulse[];
  /** When it was taken from the subscriptions (`performance.now()`). */
  readonly takenAt: number;
  /** The Worker's outcomes, one per pulse (fewer when the Worker died). */
  readonly outcomes: Promise<PulseOutcome[]>;
  /**
   * It reloads the Worker's state before its pulses: nothing may be sent behind it until it
   * was sent itself (the reload waits for the store).
   */
  readonly resets: boolean;
}

/**
 * The in-flight batches of one runner, oldest first.
 *
 * @example
 * ```ts
 * import { BatchPipeline } from "./batch_pipeline.ts";
 * const pipeline = new BatchPipeline();
 * pipeline.push({ batch: [], takenAt: 0, outcomes: Promise.resolve([]), resets: false });
 * pipeline.canSend(); // true: one more fits
 * ```
 */
export class BatchPipeline {
  readonly #depth: number;
  #entries: InFlight[] = [];

  /** A pipeline of at most `depth` batches. */
  constructor(depth: number = PIPELINE_DEPTH) {
    this.#depth = Math.max(1, depth);
  }

  /** Batches in flight. */
  get length(): number {
    return this.#entries.length;
  }

  /** The oldest batch (the next to publish), if any. */
  get head(): InFlight | undefined {
    return this.#entries[0];
  }

  /** Whether another batch may be sent now. */
  canSend(): boolean {
    return this.#entries.length < this.#depth && !this.#entries.some((e) => e.resets);
  }

  /** Adds a batch just sent. */
  push(entry: InFlight): void {
    this.#entries.push(entry);
  }

  /** Removes the head once it was published (or put back). */
  shift(): InFlight | undefined {
    return this.#entries.shift();
  }

  /**
   * Publishing stopped before the head's pulse at index `from`: removes every later batch
   * and returns the pulses handled but not published, in order (the head's from `from`
   * on, then every later batch's). Their outcomes are dropped; the head stays until
   * {@linkcode shift}.
   */
  putBack(from: number): StampedPulse[] {
    const [head, ...later] = this.#entries;
    if (!head) return [];
    this.#entries = [head];
    const rest = head.batch.slice(from);
    for (const e of later) rest.push(...e.batch);
    return rest;
  }
}
