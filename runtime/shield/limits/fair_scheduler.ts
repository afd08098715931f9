/**
 * Bulkheads between realities: the node's ingress work is shared out per reality by
 * deficit round robin over the time it really takes (a pulse's cost depends on its
 * fan-out, policies and size, so bytes or counts would be a poor proxy), one round per
 * event-loop turn.
 *
 * Each reality has a credit of time, renewed by one quantum per turn; what a task
 * overruns is owed and paid out of the next turns. Work of a reality runs at once while
 * it has credit and nothing queued: an uncontended node pays two clock reads per
 * message. Without credit a reality's work queues in its own lane, and lanes run at the
 * end of each turn while their credit lasts. A quiet reality therefore waits behind about
 * one quantum of each busy reality, never behind a flood's backlog.
 *
 * Each lane is bounded in bytes: a full lane refuses (the caller sheds the work with
 * RATE_LIMITED) instead of growing memory.
 * @module
 */
import { setImmediate } from "node:timers";

/** Options of a `FairScheduler`. */
export interface FairSchedulerOptions {
  /** Milliseconds of work a reality may spend per turn; default 0.5. */
  readonly quantumMs?: number;
  /** Bytes queued at most per reality; default 16 MiB. */
  readonly maxQueuedPerReality?: number;
  /**
   * Calls back at the end of the current event-loop turn; default `setImmediate`. The
   * node passes `IoTurn.schedule`, which also lets the runtime look at every socket.
   */
  readonly nextTurn?: (callback: () => void) => void;
  /**
   * Calls back at the end of the current turn when no work is queued, so the turn end
   * only renews credits (nothing waits for the readiness check `nextTurn` gives); default
   * `nextTurn`. The node passes `setImmediate`: an `IoTurn` round (a socket write and
   * read) per received message cost a paced publisher's node about as much as the rest
   * of the message's handling (docs/performance.md). Work queued before it fires waits
   * for `nextTurn` as before.
   */
  readonly idleTurn?: (callback: () => void) => void;
  /** The clock work is timed with, in milliseconds; default `performance.now`. */
  readonly clock?: () => number;
  /** Reports a task that threw; the scheduler carries on. */
  readonly onError?: (error: unknown, realityId: string) => void;
  /** Reports a refused submit, for metrics. */
  readonly onRefusal?: (realityId: string, bytes: number) => void;
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
  readonly bytes: number;
}

/**
 * Priorities of queued work (latency lanes: the rank of critical, normal and bulk): urgent
 * work of every reality runs first in each round, whatever the reality's credit (it pays
 * the time back out of its next turns); yielding work runs only when its reality has no
 * other work queued.
 */
export const PRIORITY_URGENT = 0;
/** The default priority. */
export const PRIORITY_NORMAL = 1;
/** Runs after its reality's other queued work. */
export const PRIORITY_YIELDING = 2;

/** A FIFO of tasks of one priority (urgent or yielding) in a reality's lane. */
class TaskQueue {
  tasks: (() => void)[] = [];
  sizes: number[] = [];
  head = 0;
  get length(): number {
    return this.tasks.length - this.head;
  }
  push(task: () => void, bytes: number): void {
    this.tasks.push(task);
    this.sizes.push(bytes);
  }
  /** Takes the oldest task and its size; the queue resets once empty. */
  shift(): [() => void, number] {
    const out: [() => void, number] = [this.tasks[this.head], this.sizes[this.head]];
    if (++this.head === this.tasks.length) {
      this.tasks = [];
      this.sizes = [];
      this.head = 0;
    }
    return out;
  }
}

interface Lane {
  readonly realityId: string;
  tasks: (() => void)[];
  sizes: number[];
  head: number;
  /** Urgent and yielding work (latency lanes); null until some arrives. */
  urgent: TaskQueue | null;
  yielding: TaskQueue | null;
  /** Bytes queued. */
  queuedBytes: number;
  /** Milliseconds the reality may still run in this turn (negative: owed). */
  credit: number;

  active: boolean;
  touched: boolean;
}

/** Per-reality lanes of a node's ingress, drained fairly; lives as long as the node. */
export class FairScheduler {
  readonly #quantum: number;
  readonly #max: number;
  readonly #onError?: (error: unknown, realityId: string) => void;
  readonly #onRefusal?: (realityId: string, bytes: number) => void;
  readonly #nextTurn: (callback: () => void) => void;
  readonly #idleTurn: ((callback: () => void) => void) | undefined;
  readonly #clock: () => number;
  readonly #lanes = new Map<string, Lane>();
  /** Lanes with queued work, in service order. */
  #active: Lane[] = [];
  /** Lanes that spent or queued in this turn: reset (or forgotten) when it ends. */
  #touched: Lane[] = [];
  #queued = 0;
  #armed = false;
  // The turn end armed is the idle one (`idleTurn`), which one is told by its generation:
  // work queued meanwhile arms `nextTurn` too, and the idle one then does nothing.
  #idleArmed = false;
  #idleGeneration = 0;
  #closed = false;

  /** Creates an idle scheduler. */
  constructor(options: FairSchedulerOptions = {}) {
    this.#quantum = Math.max(0.001, options.quantumMs ?? 0.5);
    this.#max = options.maxQueuedPerReality ?? 16 * 1024 * 1024;
    this.#onError = options.onError;
    this.#onRefusal = options.onRefusal;
    this.#nextTurn = options.nextTurn ?? setImmediate;
    this.#idleTurn = options.idleTurn;
    this.#clock = options.clock ?? (() => performance.now());
  }

  /** Milliseconds of work a reality may spend per turn. */
  get quantumMs(): number {
    return this.#quantum;
  }

  /** Tasks waiting, all realities together. */
  get queued(): number {
    return this.#queued;
  }

  /** Tasks waiting for one reality. */
  queuedFor(realityId: string): number {
    const lane = this.#lanes.get(realityId);
    return lane ? queuedTasks(lane) : 0;
  }

  /** What each reality has waiting (realities with an empty lane are left out). */
  loads(): LaneLoad[] {
    return this.#active.map((l) => ({
      realityId: l.realityId,
      tasks: queuedTasks(l),
      bytes: l.queuedBytes,
    }));
  }

  /**
   * Runs `work` for `realityId` right now when the reality has nothing queued and has
   * credit left in this turn, charging the time it takes; returns false (without running
   * it) otherwise: then `submit` it.
   */
  runNow(realityId: string, work: () => void, priority = PRIORITY_NORMAL): boolean {
    if (this.#closed) {
      work();
      return true;
    }
    const lane = this.#lanes.get(realityId) ?? this.#lane(realityId);
    if (priority === PRIORITY_URGENT) {
      // Urgent work overtakes the reality's queue and its lack of credit: it waits only
      // behind urgent work queued before it.
      if (lane.urgent !== null && lane.urgent.length > 0) return false;
    } else if (lane.active || lane.credit <= 0) return false;
    this.#touch(lane);
    const t0 = this.#clock();
    try {
      work();
    } finally {
      lane.credit -= this.#clock() - t0;
    }
    return true;
  }

  /**
   * Queues `task` (holding `bytes` of received data) for `realityId`; tasks of one
   * reality run in submit order. Returns undefined when queued, or the refusal when the
   * reality's lane is full. A lane always takes one task, however large, so no single
   * message is refused for its size alone.
   */
  submit(
    realityId: string,
    task: () => void,
    bytes = 0,
    priority = PRIORITY_NORMAL,
  ): QueueRefusal | undefined {
    if (this.#closed) return { code: "RATE_LIMITED", message: "the node is shutting down" };
    const lane = this.#lanes.get(realityId) ?? this.#lane(realityId);
    if (lane.active && lane.queuedBytes + bytes > this.#max) {
      this.#onRefusal?.(realityId, bytes);
      return {
        code: "RATE_LIMITED",
        message: `reality "${realityId || "default"}" has ${lane.queuedBytes} bytes waiting ` +
          `(limit ${this.#max}); it is over its fair share of the node`,
      };
    }
    if (priority === PRIORITY_NORMAL) {
      lane.tasks.push(task);
      lane.sizes.push(bytes);
    } else if (priority === PRIORITY_URGENT) (lane.urgent ??= new TaskQueue()).push(task, bytes);
    else (lane.yielding ??= new TaskQueue()).push(task, bytes);
    lane.queuedBytes += bytes;
    this.#queued++;
    if (!lane.active) {
      lane.active = true;
      this.#active.push(lane);
    }
    this.#touch(lane);
    return undefined;
  }

  /** Drops queued work and stops; later submits are refused, work runs at once. */
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
      sizes: [],
      head: 0,
      urgent: null,
      yielding: null,
      queuedBytes: 0,
      credit: this.#quantum,
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
      if (this.#active.length === 0 && this.#idleTurn !== undefined) {
        this.#idleArmed = true;
        const generation = ++this.#idleGeneration;
        this.#idleTurn(() => {
          if (this.#idleArmed && generation === this.#idleGeneration) this.#turnEnds();
        });
      } else this.#nextTurn(this.#turnEnds);
    } else if (this.#idleArmed && this.#active.length > 0) {
      // Work was queued: its round waits for the readiness check, as always.
      this.#idleArmed = false;
      this.#nextTurn(this.#turnEnds);
    }
  }

  readonly #turnEnds = (): void => {
    this.#armed = false;
    this.#idleArmed = false;
    if (this.#closed) return;
    const touched = this.#touched;
    this.#touched = [];
    for (const lane of touched) {
      lane.credit = Math.min(lane.credit + this.#quantum, this.#quantum);
      lane.touched = false;
      // Realities come and go; an idle lane is forgotten rather than kept forever.
      if (!lane.active) this.#lanes.delete(lane.realityId);
    }
    this.#skipIdleRounds();
    this.#round();
  };

  /**
   * Deficit round robin is work-conserving: rounds in which no lane could run add their
   * credit at once instead of one event-loop turn each. Without this, a lane paying off
   * an overrun many quanta long (a 1 ms task against a 1 µs quantum) waited a thousand
   * turns on an otherwise idle node. Relative shares are unchanged: every lane with
   * queued work gets the same number of quanta.
   */
  #skipIdleRounds(): void {
    let rounds = Infinity;
    for (const lane of this.#active) {
      if (lane.credit > 0) return;
      rounds = Math.min(rounds, Math.floor(-lane.credit / this.#quantum) + 1);
    }
    if (rounds === Infinity) return;
    for (const lane of this.#active) {
      lane.credit = Math.min(lane.credit + rounds * this.#quantum, this.#quantum);
    }
  }

  /**
   * One deficit-round-robin round: every lane with queued work runs while its credit
   * (just renewed) lasts.
   */
  #round(): void {
    const lanes = this.#active;
    // Urgent work of every reality first, credit or not (charged, so paid back later).
    for (let i = 0; i < lanes.length; i++) {
      const lane = lanes[i];
      while (lane.urgent !== null && lane.urgent.length > 0) {
        if (!this.#runQueued(lane, lane.urgent)) return;
      }
    }
    for (let i = 0; i < lanes.length; i++) {
      const lane = lanes[i];
      while (lane.urgent !== null && lane.urgent.length > 0) {
        if (!this.#runQueued(lane, lane.urgent)) return;
      }
      while (lane.head < lane.tasks.length && lane.credit > 0) {
        const task = lane.tasks[lane.head];
        lane.queuedBytes -= lane.sizes[lane.head];
        lane.head++;
        this.#queued--;
        const t0 = this.#clock();
        try {
          task();
        } catch (e) {
          this.#onError?.(e, lane.realityId);
        }
        lane.credit -= this.#clock() - t0;
        if (this.#closed) return;
      }
      // Yielding (bulk) work only when the reality has nothing else queued.
      while (
        lane.yielding !== null && lane.yielding.length > 0 && lane.head >= lane.tasks.length &&
        lane.credit > 0
      ) {
        if (!this.#runQueued(lane, lane.yielding)) return;
      }
    }
    const still: Lane[] = [];
    for (const lane of lanes) {
      if (queuedTasks(lane) === 0) {
        // Empty lanes leave the rotation; forgotten at the turn end if nothing comes.
        lane.tasks = [];
        lane.sizes = [];
        lane.head = 0;
        lane.queuedBytes = 0;
        lane.active = false;
        this.#touch(lane);
      } else {
        if (lane.head > 1024 && lane.head * 2 > lane.tasks.length) {
          lane.tasks = lane.tasks.slice(lane.head);
          lane.sizes = lane.sizes.slice(lane.head);
          lane.head = 0;
        }
        still.push(lane);
      }
    }
    // Lanes that tasks activated during the round were appended to `lanes` and served.
    this.#active = still;
    for (const lane of still) this.#touch(lane);
  }

  /** Runs the oldest task of `q` (urgent or yielding) for `lane`; false once closed. */
  #runQueued(lane: Lane, q: TaskQueue): boolean {
    const [task, bytes] = q.shift();
    lane.queuedBytes -= bytes;
    this.#queued--;
    const t0 = this.#clock();
    try {
      task();
    } catch (e) {
      this.#onError?.(e, lane.realityId);
    }
    lane.credit -= this.#clock() - t0;
    return !this.#closed;
  }
}

/** Tasks a lane holds, all priorities. */
function queuedTasks(lane: Lane): number {
  return lane.tasks.length - lane.head + (lane.urgent?.length ?? 0) +
    (lane.yielding?.length ?? 0);
}
