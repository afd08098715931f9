/**
 * A subscription and its bounded outbound queue. The queue is where backpressure lives:
 * when the subscriber's transport cannot keep up, deliveries wait here, and when the
 * bounds (messages, bytes) are reached the subscription's overflow policy decides.
 * @module
 */
import type { SpectralFilter } from "../protocol/mod.ts";
import { LANE_RANK } from "./lanes.ts";
import { Ring } from "./ring.ts";
import type { StampedPulse } from "./stamped.ts";

/** What happens when the queue is full. */
export type OverflowMode = "drop-oldest" | "drop-new" | "disconnect";

/** Whoever drains a subscription: a client session, an internal inbox. */
export interface SubscriptionOwner {
  /** The subscription has deliveries (or a drop notice) waiting. */
  wake(sub: Subscription): void;
  /** A `disconnect`-policy subscription overflowed: the owner must close. */
  overflowed(sub: Subscription): void;
}

/** Counts a drop, with its reason and the lane's proto number (1 normal), in metrics. */
export type DropCounter = (reason: "drop_oldest" | "drop_new", count: number, lane: number) => void;

/**
 * The queue of one non-normal lane (critical or bulk): made on the first such pulse, so a
 * subscription that only ever sees normal pulses pays a null check and nothing more.
 */
class LaneQueue {
  readonly items = new Ring<StampedPulse>();
  bytes = 0;
  constructor(readonly lane: number) {}
}

/** Parameters of a subscription. */
export interface SubscriptionSpec {
  /** The id the client chose; deliveries carry it. */
  readonly id: number;
  /** The reality the subscription listens in. */
  readonly realityId: string;
  /** A topic pattern (`*` one segment, `>` the rest). */
  readonly pattern: string;
  /** Empty for none. */
  readonly queueGroup: string;
  /** What happens when the queue is full. */
  readonly overflow: OverflowMode;
  /** Deliveries the queue holds at most (capped at the node's `--queue-messages`). */
  readonly maxMessages: number;
  /** Bytes the queue holds at most (capped at the node's `--queue-bytes`). */
  readonly maxBytes: number;
  /** 0 for unlimited; otherwise deliveries outstanding before `Credit` is needed. */
  readonly maxInFlight: number;
  /**
   * Only pulses whose spectral metadata passes it are delivered (live and replayed).
   * @default {undefined} no filter
   */
  readonly spectralFilter?: SpectralFilter;
}

/** One live subscription; lives until unsubscribed or its owner closes. */
export class Subscription {
  /** Parameters it was opened with. */
  readonly spec: SubscriptionSpec;
  /** Who drains it. */
  readonly owner: SubscriptionOwner;
  /** Deliveries the client may still receive before it must grant credit. */
  credits: number;
  /** Drops not yet reported to the client. */
  unreportedDrops = 0;
  /** Total drops over the subscription's life. */
  droppedTotal = 0;
  /** Set once closed; a closed subscription accepts nothing. */
  closed = false;
  // A ring: a dropped or taken pulse leaves the queue's memory at once, so the queue costs
  // what its bounds allow even while nobody takes from it.
  #items = new Ring<StampedPulse>();
  #bytes = 0;
  // History being replayed (start from_sequence/from_time): delivered before anything in
  // the live queue, which holds only later sequences and waits until the replay ends.
  #replay: Ring<StampedPulse> | null = null;
  #replayDone = false;
  // Critical (index 0) and bulk (index 2) queues, each bounded like the normal one; null
  // until a pulse of either lane arrives.
  #lanes: [LaneQueue | null, null, LaneQueue | null] | null = null;
  readonly #countDrop: DropCounter;

  /** Opens a subscription; the Spine registers it in the reality's trie. */
  constructor(spec: SubscriptionSpec, owner: SubscriptionOwner, countDrop: DropCounter) {
    this.spec = spec;
    this.owner = owner;
    this.credits = spec.maxInFlight > 0 ? spec.maxInFlight : Infinity;
    this.#countDrop = countDrop;
  }

  /** Deliveries waiting, all lanes together. */
  get queued(): number {
    const lanes = this.#lanes;
    if (lanes === null) return this.#items.length;
    return this.#items.length + (lanes[0]?.items.length ?? 0) + (lanes[2]?.items.length ?? 0);
  }

  /** Whether a critical or bulk pulse ever reached this subscription (its lanes are in use). */
  get laned(): boolean {
    return this.#lanes !== null;
  }

  /** Deliveries waiting in one lane (proto number; 0 and 1 are the normal lane). */
  queuedIn(lane: number): number {
    const rank = LANE_RANK[lane];
    if (rank === 1) return this.#items.length;
    return this.#lanes?.[rank]?.items.length ?? 0;
  }

  /** Slots the live queue's ring holds (its memory, whatever is queued); for tests. */
  get queueCapacity(): number {
    return this.#items.capacity;
  }

  /** Bytes waiting, all lanes together. */
  get queuedBytes(): number {
    const lanes = this.#lanes;
    if (lanes === null) return this.#bytes;
    return this.#bytes + (lanes[0]?.bytes ?? 0) + (lanes[2]?.bytes ?? 0);
  }

  /** Whether one more normal-lane delivery of `size` bytes fits without applying the policy. */
  hasRoom(size: number): boolean {
    return this.#items.length < this.spec.maxMessages && this.#bytes + size <= this.spec.maxBytes;
  }

  /** Offers a delivery; returns whether it was queued. */
  offer(p: StampedPulse): boolean {
    if (this.closed) return false;
    if (p.lane > 1) return this.#offerLane(p, LANE_RANK[p.lane]);
    if (!this.hasRoom(p.size)) {
      switch (this.spec.overflow) {
        case "drop-new":
          this.#drop("drop_new", 1, 1);
          this.owner.wake(this);
          return false;
        case "disconnect":
          this.owner.overflowed(this);
          return false;
        default: {
          let n = 0;
          while (this.#items.length > 0 && !this.hasRoom(p.size)) {
            this.#bytes -= this.#items.shift()!.size;
            n++;
          }
          if (n > 0) this.#drop("drop_oldest", n, 1);
          if (!this.hasRoom(p.size)) {
            // A single pulse larger than the byte bound: it can never fit.
            this.#drop("drop_new", 1, 1);
            this.owner.wake(this);
            return false;
          }
        }
      }
    }
    this.#items.push(p);
    this.#bytes += p.size;
    this.owner.wake(this);
    return true;
  }

  /**
   * Offers a critical or bulk delivery to its own lane queue, bounded like the normal one
   * (`maxMessages`, `maxBytes`) and overflowing by the same policy, except that a bulk
   * lane never disconnects: it drops its oldest instead, since a bulk flood must not
   * cost the subscriber its critical pulses.
   */
  #offerLane(p: StampedPulse, rank: number): boolean {
    const lanes = this.#lanes ??= [null, null, null];
    const q = lanes[rank as 0 | 2] ??= new LaneQueue(p.lane);
    const { maxMessages, maxBytes } = this.spec;
    const fits = () => q.items.length < maxMessages && q.bytes + p.size <= maxBytes;
    if (!fits()) {
      const mode = rank === 2 && this.spec.overflow === "disconnect"
        ? "drop-oldest"
        : this.spec.overflow;
      if (mode === "disconnect") {
        this.owner.overflowed(this);
        return false;
      }
      if (mode === "drop-oldest") {
        let n = 0;
        while (q.items.length > 0 && !fits()) {
          q.bytes -= q.items.shift()!.size;
          n++;
        }
        if (n > 0) this.#drop("drop_oldest", n, q.lane);
      }
      if (!fits()) {
        this.#drop("drop_new", 1, q.lane);
        this.owner.wake(this);
        return false;
      }
    }
    q.items.push(p);
    q.bytes += p.size;
    this.owner.wake(this);
    return true;
  }

  /** Starts a replay: live deliveries queue up but wait behind `feedReplay`ed history. */
  beginReplay(): void {
    this.#replay = new Ring();
    this.#replayDone = false;
  }

  /** Adds replayed pulses (in sequence order, all before the live queue's). */
  feedReplay(items: readonly StampedPulse[]): void {
    if (this.closed || !this.#replay) return;
    const filter = this.spec.spectralFilter;
    for (const p of items) {
      if (filter === undefined || filter.test(p.pulse.spectral)) this.#replay.push(p);
    }
    this.owner.wake(this);
  }

  /** Ends the replay: once the replayed pulses are taken, live deliveries flow. */
  endReplay(): void {
    if (!this.#replay) return;
    this.#replayDone = true;
    this.owner.wake(this);
  }

  /** Whether history is still being fed (a replay began and has not ended). */
  get replaying(): boolean {
    return this.#replay !== null && !this.#replayDone;
  }

  /** Replayed pulses not yet taken. */
  get replayBacklog(): number {
    return this.#replay ? this.#replay.length : 0;
  }

  /**
   * Takes up to `max` deliveries (bounded by credits) off the head of the queue: critical
   * ones first, then normal, then bulk, each lane in its own order. `maxRank` stops
   * before the lower lanes (0: critical only, 1: not bulk), so that a batch assembled
   * over several subscriptions takes every one's critical pulses before anyone's bulk.
   */
  take(max: number, maxRank = 2): StampedPulse[] {
    if (this.#replay) {
      const backlog = this.#replay.length;
      if (backlog > 0) {
        const n = Math.min(max, backlog, this.credits);
        if (n <= 0) return [];
        const out = this.#replay.take(n);
        if (this.credits !== Infinity) this.credits -= n;
        if (this.#replay.length === 0 && this.#replayDone) this.#replay = null;
        return out;
      }
      if (!this.#replayDone) return [];
      this.#replay = null;
    }
    if (this.#lanes !== null) return this.#takeLanes(max, maxRank);
    if (maxRank < 1) return [];
    const n = Math.min(max, this.#items.length, this.credits);
    if (n <= 0) return [];
    const out = this.#items.take(n);
    for (const p of out) this.#bytes -= p.size;
    if (this.credits !== Infinity) this.credits -= n;
    return out;
  }

  #takeLanes(max: number, maxRank: number): StampedPulse[] {
    const lanes = this.#lanes!;
    let budget = Math.min(max, this.credits);
    let out: StampedPulse[] | undefined;
    for (let rank = 0; rank <= maxRank && budget > 0; rank++) {
      const q = rank === 1 ? null : lanes[rank as 0 | 2];
      const ring = rank === 1 ? this.#items : q?.items;
      if (!ring || ring.length === 0) continue;
      const got = ring.take(budget);
      let bytes = 0;
      for (const p of got) bytes += p.size;
      if (q) q.bytes -= bytes;
      else this.#bytes -= bytes;
      budget -= got.length;
      out = out === undefined ? got : out.concat(got);
    }
    if (out === undefined) return [];
    if (this.credits !== Infinity) this.credits -= out.length;
    return out;
  }

  /**
   * Approximate size of the delivery {@linkcode take} would return first (0 when none):
   * the outbox sizes its take by it, so a queue of large pulses is not taken 256 at a time
   * into one oversized message.
   */
  headSize(maxRank = 2): number {
    if (this.#replay && this.#replay.length > 0) return this.#replay.peek()!.size;
    const lanes = this.#lanes;
    if (lanes !== null) {
      const critical = lanes[0]?.items.peek();
      if (critical !== undefined) return critical.size;
    }
    if (maxRank >= 1) {
      const normal = this.#items.peek();
      if (normal !== undefined) return normal.size;
    }
    if (maxRank >= 2 && lanes !== null) return lanes[2]?.items.peek()?.size ?? 0;
    return 0;
  }

  /**
   * The lowest sequence among the deliveries waiting at the heads of its queues (replay,
   * lanes), Infinity when none: a causal gate (docs/time.md) knows by it whether a
   * dependency of this reality is still on its way to the subscriber.
   */
  headSequence(): number {
    let min = Infinity;
    const replay = this.#replay?.peek();
    if (replay !== undefined) min = replay.pulse.sequence ?? 0;
    const normal = this.#items.peek();
    if (normal !== undefined) min = Math.min(min, normal.pulse.sequence ?? 0);
    const lanes = this.#lanes;
    if (lanes !== null) {
      const critical = lanes[0]?.items.peek();
      if (critical !== undefined) min = Math.min(min, critical.pulse.sequence ?? 0);
      const bulk = lanes[2]?.items.peek();
      if (bulk !== undefined) min = Math.min(min, bulk.pulse.sequence ?? 0);
    }
    return min;
  }

  /** Whether a lane at or above `maxRank` (0 critical, 1 normal, 2 bulk) has deliveries ready. */
  readyUpTo(maxRank: number): boolean {
    if (!this.ready) return false;
    if (maxRank >= 2 || this.#replay) return true;
    if (this.#lanes?.[0]?.items.length) return true;
    return maxRank === 1 && this.#items.length > 0;
  }

  /** Whether `take` would return something now. */
  get ready(): boolean {
    if (this.#replay) {
      return this.credits > 0 &&
        (this.#replay.length > 0 || (this.#replayDone && this.queued > 0));
    }
    return this.queued > 0 && this.credits > 0;
  }

  /** Grants `count` more deliveries to a flow-controlled subscription. */
  grant(count: number): void {
    if (this.credits !== Infinity) this.credits += count;
    if (this.ready) this.owner.wake(this);
  }

  /** Empties the queue (on close). */
  clear(): void {
    this.#replay = null;
    this.#items.clear();
    this.#bytes = 0;
    this.#lanes = null;
  }

  #drop(reason: "drop_oldest" | "drop_new", n: number, lane: number): void {
    this.unreportedDrops += n;
    this.droppedTotal += n;
    this.#countDrop(reason, n, lane);
  }
}
