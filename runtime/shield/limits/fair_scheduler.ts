/**
 * Bulkheads between realities: publish work is queued per reality and served by deficit
 * round robin, so a reality flooding the node gets its fair share of each event-loop turn
 * and no more; a quiet reality's pulse waits behind at most one quantum of each busy
 * reality, never behind the flood's whole backlog. Each reality's queue is bounded: a
 * full queue refuses new work (RATE_LIMITED) instead of growing memory.
 * @module
 */
import { setImmediate } from "node:timers";

/** Options of a `FairScheduler`. */
export interface FairSchedulerOptions {
  /** Cost units a reality may spend per round; default 1 (one task per visit). */
  readonly quantum?: number;
  /** Tasks queued at most per reality; default 10 000. */
  readonly maxQueuedPerReality?: number;
  /** Tasks run per event-loop turn before yielding to I/O; default 256. */
  readonly turnBudget?: number;
  /** Reports a task that threw; the scheduler carries on. */
  readonly onError?: (error: unknown, realityId: string) => void;
  /** Reports a refused submit, for metrics. */
  readonly onRefusal?: (realityId: string) => void;
}

/** Why a submit was refused. */
export interface QueueRefusal {
  readonly code: "RATE_LIMITED";
  readonly message: string;
}

interface Lane {
  readonly realityId: string;
  tasks: (() => void)[];
  costs: number[];
  head: number;
  deficit: number;
  active: boolean;
}

/** Per-reality queues drained fairly. */
export class FairScheduler {
  readonly #quantum: number;
  readonly #max: number;
  readonly #budget: number;
  readonly #onError?: (error: unknown, realityId: string) => void;
  readonly #onRefusal?: (realityId: string) => void;
  readonly #lanes = new Map<string, Lane>();
  /** Realities with queued work, in service order. */
  #active: Lane[] = [];
  #cursor = 0;
  #queued = 0;
  #scheduled = false;
  #closed = false;

  /** Creates an idle scheduler. */
  constructor(options: FairSchedulerOptions = {}) {
    this.#quantum = options.quantum ?? 1;
    this.#max = options.maxQueuedPerReality ?? 10_000;
    this.#budget = options.turnBudget ?? 256;
    this.#onError = options.onError;
    this.#onRefusal = options.onRefusal;
  }

  /** Tasks waiting, all realities together. */
  get queued(): number {
    return this.#queued;
  }

  /** Tasks waiting for one reality. */
  queuedFor(realityId: string): number {
    const lane = this.#lanes.get(realityId);
    return lane ? lane.tasks.length - lane.head : 0;
  }

  /**
   * Queues `task` for `realityId`; tasks of one reality run in submit order. Returns
   * undefined when queued, or the refusal when the reality's queue is full.
   */
  submit(realityId: string, task: () => void, cost = 1): QueueRefusal | undefined {
    if (this.#closed) return { code: "RATE_LIMITED", message: "scheduler closed" };
    let lane = this.#lanes.get(realityId);
    if (!lane) {
      lane = { realityId, tasks: [], costs: [], head: 0, deficit: 0, active: false };
      this.#lanes.set(realityId, lane);
    }
    if (lane.tasks.length - lane.head >= this.#max) {
      this.#onRefusal?.(realityId);
      return {
        code: "RATE_LIMITED",
        message: `reality "${realityId || "default"}" has ${this.#max} pulses waiting; slow down`,
      };
    }
    lane.tasks.push(task);
    lane.costs.push(cost);
    this.#queued++;
    if (!lane.active) {
      lane.active = true;
      this.#active.push(lane);
    }
    this.#schedule();
    return undefined;
  }

  /** Drops queued work and stops; later submits are refused. */
  close(): void {
    this.#closed = true;
    this.#lanes.clear();
    this.#active = [];
    this.#queued = 0;
  }

  #schedule(): void {
    if (this.#scheduled || this.#closed) return;
    this.#scheduled = true;
    setImmediate(this.#turn);
  }

  readonly #turn = (): void => {
    this.#scheduled = false;
    let budget = this.#budget;
    while (budget > 0 && this.#active.length > 0) {
      if (this.#cursor >= this.#active.length) this.#cursor = 0;
      const lane = this.#active[this.#cursor];
      lane.deficit += this.#quantum;
      while (lane.head < lane.tasks.length && lane.costs[lane.head] <= lane.deficit && budget > 0) {
        const task = lane.tasks[lane.head];
        lane.deficit -= lane.costs[lane.head];
        lane.head++;
        this.#queued--;
        budget--;
        try {
          task();
        } catch (e) {
          this.#onError?.(e, lane.realityId);
        }
        if (this.#closed) return;
      }
      if (lane.head >= lane.tasks.length) {
        // Empty lanes leave the rotation and keep no credit, as DRR prescribes.
        lane.tasks = [];
        lane.costs = [];
        lane.head = 0;
        lane.deficit = 0;
        lane.active = false;
        this.#active.splice(this.#cursor, 1);
      } else {
        if (lane.head > 1024 && lane.head * 2 > lane.tasks.length) {
          lane.tasks = lane.tasks.slice(lane.head);
          lane.costs = lane.costs.slice(lane.head);
          lane.head = 0;
        }
        this.#cursor++;
      }
    }
    if (this.#active.length > 0) this.#schedule();
  };
}
