/**
 * Bulkheads between realities: the node's ingress work is shared out per reality by
 * deficit round robin, in cost units (bytes), one round per event-loop turn.
 *
 * Work of a reality runs at once while the reality has spent less than one quantum in the
 * current turn and has nothing queued: an uncontended node pays one counter update per
 * message. Past its quantum a reality's work queues in its own lane, and each turn every
 * lane gets one more quantum. A quiet reality therefore waits behind at most one quantum
 * of each busy reality, never behind a flood's backlog; this matters because Deno's
 * WebSocket reader hands over every buffered message of one socket before it reads the
 * next socket, so a flooding connection would otherwise hold the loop for milliseconds.
 *
 * Each lane is bounded in cost units: a full lane refuses (the caller sheds the work
 * with RATE_LIMITED) instead of growing memory.
 * @module
 */
import { setImmediate } from "node:timers";

/** Options of a `FairScheduler`. */
export interface FairSchedulerOptions {
  /** Cost units (bytes) a reality may spend per turn; default 128 KiB. */
  readonly quantum?: number;
  /** Cost units queued at most per reality; default 16 MiB. */
  readonly maxQueuedPerReality?: number;
  /** Reports a task that threw; the scheduler carries on. */
  readonly onError?: (error: unknown, realityId: string) => void;
  /** Reports a refused submit, for metrics. */
  readonly onRefusal?: (realityId: string, cost: number) => void;
}

/** Why a submit was refused. */
export interface QueueRefusal {
  readonly code: "RATE_LIMITED";
  readonly message: string;
}

/** What is queued for one reality, for metrics. */
export interface LaneLoad {
  readonly realityId: string;
  readonly tasks: number;
  readonly cost: number;
}

interface Lane {
  readonly realityId: string;
  tasks: (() => void)[];
  costs: number[];
  head: number;
  /** Cost units queued. */
  queuedCost: number;
  deficit: number;
  /** Cost units spent in the current turn by work that ran at once. */
  spent: number;
  active: boolean;
  touched: boolean;
}

/** Per-reality lanes of a node's ingress, drained fairly; lives as long as the node. */
export class FairScheduler {
  readonly #quantum: number;
  readonly #max: number;
  readonly #onError?: (error: unknown, realityId: string) => void;
  readonly #onRefusal?: (realityId: string, cost: number) => void;
  readonly #lanes = new Map<string, Lane>();
  /** Lanes with queued work, in service order. */
  #active: Lane[] = [];
  /** Lanes that spent or queued in this turn: reset (or forgotten) when it ends. */
  #touched: Lane[] = [];
  #queued = 0;
  #armed = false;
  #closed = false;

  /** Creates an idle scheduler. */
  constructor(options: FairSchedulerOptions = {}) {
    this.#quantum = Math.max(1, options.quantum ?? 128 * 1024);
    this.#max = options.maxQueuedPerReality ?? 16 * 1024 * 1024;
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

  /** What each reality has waiting (realities with an empty lane are left out). */
  loads(): LaneLoad[] {
    return this.#active.map((l) => ({
      realityId: l.realityId,
      tasks: l.tasks.length - l.head,
      cost: l.queuedCost,
    }));
  }

  /**
   * Whether work of `cost` units for `realityId` may run right now, ahead of any queue.
   * True charges the cost to the reality's share of this turn; false means: `submit` it.
   */
  mayRunNow(realityId: string, cost: number): boolean {
    if (this.#closed) return true;
    const lane = this.#lanes.get(realityId) ?? this.#lane(realityId);
    if (lane.active || lane.spent >= this.#quantum) return false;
    lane.spent += cost;
    this.#touch(lane);
    return true;
  }

  /**
   * Queues `task` for `realityId`; tasks of one reality run in submit order. Returns
   * undefined when queued, or the refusal when the reality's lane is full. A lane always
   * takes one task, however costly, so no single message is refused for its size alone.
   */
  submit(realityId: string, task: () => void, cost = 1): QueueRefusal | undefined {
    if (this.#closed) return { code: "RATE_LIMITED", message: "the node is shutting down" };
    const lane = this.#lanes.get(realityId) ?? this.#lane(realityId);
    if (lane.active && lane.queuedCost + cost > this.#max) {
      this.#onRefusal?.(realityId, cost);
      return {
        code: "RATE_LIMITED",
        message: `reality "${realityId || "default"}" has ${lane.queuedCost} bytes waiting ` +
          `(limit ${this.#max}); it is over its fair share of the node`,
      };
    }
    lane.tasks.push(task);
    lane.costs.push(cost);
    lane.queuedCost += cost;
    this.#queued++;
    if (!lane.active) {
      lane.active = true;
      this.#active.push(lane);
    }
    this.#touch(lane);
    return undefined;
  }

  /** Drops queued work and stops; later submits are refused, `mayRunNow` always agrees. */
  close(): void {
    this.#closed = true;
    this.#lanes.clear();
    this.#active = [];
    this.#touched = [];
    this.#queued = 0;
  }

  #lane(realityId: string): Lane {
    const lane: Lane = {
      realityId,
      tasks: [],
      costs: [],
      head: 0,
      queuedCost: 0,
      deficit: 0,
      spent: 0,
      active: false,
      touched: false,
    };
    this.#lanes.set(realityId, lane);
    return lane;
  }

  #touch(lane: Lane): void {
    if (!lane.touched) {
      lane.touched = true;
      this.#touched.push(lane);
    }
    if (!this.#armed) {
      this.#armed = true;
      setImmediate(this.#turnEnds);
    }
  }

  // The check phase follows the I/O callbacks of a loop iteration: the end of a turn.
  readonly #turnEnds = (): void => {
    this.#armed = false;
    if (this.#closed) return;
    const touched = this.#touched;
    this.#touched = [];
    for (const lane of touched) {
      lane.spent = 0;
      lane.touched = false;
      // Realities come and go; an idle lane is forgotten rather than kept forever.
      if (!lane.active) this.#lanes.delete(lane.realityId);
    }
    this.#round();
  };

  /** One deficit-round-robin round: every lane with queued work gets one quantum. */
  #round(): void {
    const lanes = this.#active;
    for (let i = 0; i < lanes.length; i++) {
      const lane = lanes[i];
      lane.deficit += this.#quantum;
      while (lane.head < lane.tasks.length && lane.costs[lane.head] <= lane.deficit) {
        const task = lane.tasks[lane.head];
        const cost = lane.costs[lane.head];
        lane.deficit -= cost;
        lane.queuedCost -= cost;
        lane.head++;
        this.#queued--;
        try {
          task();
        } catch (e) {
          this.#onError?.(e, lane.realityId);
        }
        if (this.#closed) return;
      }
    }
    const still: Lane[] = [];
    for (const lane of lanes) {
      if (lane.head >= lane.tasks.length) {
        // Empty lanes leave the rotation and keep no credit, as DRR prescribes.
        lane.tasks = [];
        lane.costs = [];
        lane.head = 0;
        lane.deficit = 0;
        lane.queuedCost = 0;
        lane.active = false;
        this.#touch(lane);
      } else {
        if (lane.head > 1024 && lane.head * 2 > lane.tasks.length) {
          lane.tasks = lane.tasks.slice(lane.head);
          lane.costs = lane.costs.slice(lane.head);
          lane.head = 0;
        }
        still.push(lane);
      }
    }
    // Lanes that tasks activated during the round were appended to `lanes` and served.
    this.#active = still;
    for (const lane of still) this.#touch(lane);
  }
}
