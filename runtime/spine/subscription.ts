/**
 * A subscription and its bounded outbound queue. The queue is where backpressure lives:
 * when the subscriber's transport cannot keep up, deliveries wait here, and when the
 * bounds (messages, bytes) are reached the subscription's overflow policy decides.
 * @module
 */
import type { SpectralFilter } from "../protocol/mod.ts";
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

/** Counts a drop, with its reason, in metrics. */
export type DropCounter = (reason: "drop_oldest" | "drop_new", count: number) => void;

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
  readonly #countDrop: DropCounter;

  /** Opens a subscription; the Spine registers it in the reality's trie. */
  constructor(spec: SubscriptionSpec, owner: SubscriptionOwner, countDrop: DropCounter) {
    this.spec = spec;
    this.owner = owner;
    this.credits = spec.maxInFlight > 0 ? spec.maxInFlight : Infinity;
    this.#countDrop = countDrop;
  }

  /** Deliveries waiting. */
  get queued(): number {
    return this.#items.length;
  }

  /** Slots the live queue's ring holds (its memory, whatever is queued); for tests. */
  get queueCapacity(): number {
    return this.#items.capacity;
  }

  /** Bytes waiting. */
  get queuedBytes(): number {
    return this.#bytes;
  }

  /** Whether one more delivery of `size` bytes fits without applying the policy. */
  hasRoom(size: number): boolean {
    return this.queued < this.spec.maxMessages && this.#bytes + size <= this.spec.maxBytes;
  }

  /** Offers a delivery; returns whether it was queued. */
  offer(p: StampedPulse): boolean {
    if (this.closed) return false;
    if (!this.hasRoom(p.size)) {
      switch (this.spec.overflow) {
        case "drop-new":
          this.#drop("drop_new", 1);
          this.owner.wake(this);
          return false;
        case "disconnect":
          this.owner.overflowed(this);
          return false;
        default: {
          let n = 0;
          while (this.queued > 0 && !this.hasRoom(p.size)) {
            this.#bytes -= this.#items.shift()!.size;
            n++;
          }
          if (n > 0) this.#drop("drop_oldest", n);
          if (!this.hasRoom(p.size)) {
            // A single pulse larger than the byte bound: it can never fit.
            this.#drop("drop_new", 1);
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

  /** Replayed pulses not yet taken. */
  get replayBacklog(): number {
    return this.#replay ? this.#replay.length : 0;
  }

  /** Takes up to `max` deliveries (bounded by credits) off the head of the queue. */
  take(max: number): StampedPulse[] {
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
    const n = Math.min(max, this.queued, this.credits);
    if (n <= 0) return [];
    const out = this.#items.take(n);
    for (const p of out) this.#bytes -= p.size;
    if (this.credits !== Infinity) this.credits -= n;
    return out;
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
  }

  #drop(reason: "drop_oldest" | "drop_new", n: number): void {
    this.unreportedDrops += n;
    this.droppedTotal += n;
    this.#countDrop(reason, n);
  }
}
