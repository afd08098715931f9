/**
 * The client side of a subscription: an async iterator of pulses (or a callback), with
 * credit-based flow control when `maxInFlight` is set.
 * @module
 */
import type { BusError, IPulse } from "../protocol/mod.ts";

/** Options of `ArqonClient.subscribe`. */
export interface SubscribeOptions {
  /**
   * Reality to subscribe in.
   * @default {"default"}
   */
  reality?: string;
  /**
   * Delivers only pulses whose spectral metadata satisfies this expression, e.g.
   * `coherence >= 0.75` (pulses without spectral metadata never match); empty for none.
   * @default {""}
   */
  spectralFilter?: string;
  /**
   * Semantic anycast: this subscription's capability embeddings (the reality's dimension,
   * at most 16) and the least cosine similarity an anycast pulse must reach. Deliveries of
   * anycast pulses carry `anycastMatch` (which embedding matched, its score).
   * @default {undefined} no anycast (or the embeddings of the connection's card)
   */
  anycast?: { vectors: ArrayLike<number>[]; minScore?: number };
  /**
   * Delivery order: `causal` holds a pulse until every pulse it causally depends on that one
   * of this connection's causal subscriptions matches was delivered (docs/time.md); a
   * dependency missing past `causalTimeoutMs` is reported to `onError` as `CAUSAL_GAP`, then
   * delivery goes on.
   * @default {"arrival"}
   */
  order?: "arrival" | "causal";
  /**
   * With `order: "causal"`: how long a pulse waits for a missing dependency (0: the node's
   * 5000; at most 60000).
   * @default {0}
   */
  causalTimeoutMs?: number;
  /**
   * Queue group: each pulse goes to one member of the group; empty for none.
   * @default {""}
   */
  queueGroup?: string;
  /**
   * Deliveries outstanding before the client must grant more; 0 = unlimited.
   * @default {0}
   */
  maxInFlight?: number;
  /**
   * What the node does when this subscriber falls behind; left out, the node's
   * `--overflow` (`drop-oldest` unless configured).
   * @default {undefined}
   */
  overflow?: "drop-oldest" | "drop-new" | "disconnect";
  /**
   * Node-side bound on deliveries queued for this subscription (0: the node's default).
   * @default {0}
   */
  maxQueueMessages?: number;
  /**
   * Node-side bound on bytes queued for this subscription (0: the node's default).
   * @default {0}
   */
  maxQueueBytes?: number;
  /**
   * Start by replaying stored pulses from this sequence, then continue live; 0: live only.
   * @default {0}
   */
  fromSequence?: number;
  /**
   * Start by replaying stored pulses from this HLC wall time (ms), then continue live;
   * 0: live only.
   * @default {0}
   */
  fromTimeMs?: number;
  /**
   * After a reconnect, resubscribe from the last sequence seen so stored pulses missed
   * while disconnected are replayed (queue groups never resume).
   * @default {true}
   */
  resume?: boolean;
  /**
   * Called for each pulse instead of buffering for the iterator (fastest).
   * @default {undefined}
   */
  onPulse?: (pulse: IPulse) => void;
  /**
   * Called when the node reports an error about this subscription (e.g. drops).
   * @default {undefined}
   */
  onError?: (error: BusError) => void;
}

/** Internal hooks a subscription uses to talk to its client. */
export interface SubscriptionLink {
  grant(id: number, count: number): void;
  unsubscribe(id: number): void;
}

/** A live client subscription; iterate it, or pass `onPulse`. Lives until `close()`. */
export class ClientSubscription implements AsyncIterable<IPulse> {
  /** The subscription id on this connection. */
  readonly id: number;
  /** The pattern subscribed to. */
  readonly pattern: string;
  /** The options it was opened with. */
  readonly options: SubscribeOptions;
  /** Resolves once the node confirmed the subscription; rejects with its error. */
  ready: Promise<void>;
  /** Deliveries the node reported as dropped for this subscriber. */
  dropped = 0;
  /** The last sequence received, per reality (used to resume). */
  lastSequence = 0;
  #buffer: IPulse[] = [];
  #head = 0;
  #waiter: ((r: IteratorResult<IPulse>) => void) | null = null;
  #closed = false;
  #consumed = 0;
  readonly #link: SubscriptionLink;
  #settle: { resolve: () => void; reject: (e: Error) => void };

  /** Created by `ArqonClient.subscribe`. */
  constructor(id: number, pattern: string, options: SubscribeOptions, link: SubscriptionLink) {
    this.id = id;
    this.pattern = pattern;
    this.options = options;
    this.#link = link;
    const { promise, resolve, reject } = Promise.withResolvers<void>();
    this.ready = promise;
    this.ready.catch(() => {});
    this.#settle = { resolve, reject };
  }

  /** Whether the subscription was closed. */
  get closed(): boolean {
    return this.#closed;
  }

  /** @internal The node confirmed (or refused) the subscription. */
  confirm(error?: Error): void {
    if (error) {
      this.#settle.reject(error);
      this.#end();
    } else this.#settle.resolve();
  }

  /** @internal Re-arms `ready` before resubscribing after a reconnect. */
  rearm(): void {
    const { promise, resolve, reject } = Promise.withResolvers<void>();
    this.ready = promise;
    this.ready.catch(() => {});
    this.#settle = { resolve, reject };
  }

  /** @internal A delivery arrived. */
  push(pulse: IPulse): void {
    if (this.#closed) return;
    this.lastSequence = pulse.sequence ?? this.lastSequence;
    if (this.options.onPulse) {
      this.options.onPulse(pulse);
      this.#consume();
      return;
    }
    if (this.#waiter) {
      const w = this.#waiter;
      this.#waiter = null;
      w({ value: pulse, done: false });
      this.#consume();
      return;
    }
    this.#buffer.push(pulse);
  }

  /** @internal The node reported an error about this subscription. */
  fail(error: BusError, dropped: number): void {
    this.dropped += dropped;
    this.options.onError?.(error);
  }

  #consume(): void {
    const max = this.options.maxInFlight ?? 0;
    if (max <= 0) return;
    if (++this.#consumed >= Math.max(1, max >> 1)) {
      this.#link.grant(this.id, this.#consumed);
      this.#consumed = 0;
    }
  }

  /** The next pulse, or done once closed. */
  next(): Promise<IteratorResult<IPulse>> {
    if (this.#head < this.#buffer.length) {
      const value = this.#buffer[this.#head++];
      if (this.#head === this.#buffer.length) {
        this.#buffer = [];
        this.#head = 0;
      }
      this.#consume();
      return Promise.resolve({ value, done: false });
    }
    if (this.#closed) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => this.#waiter = resolve);
  }

  /** Async iteration over deliveries. */
  [Symbol.asyncIterator](): AsyncIterator<IPulse> {
    return {
      next: () => this.next(),
      return: () => {
        this.close();
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }

  /** Unsubscribes; the iterator ends after the buffered pulses. */
  close(): void {
    if (this.#closed) return;
    this.#link.unsubscribe(this.id);
    this.#end();
  }

  #end(): void {
    this.#closed = true;
    if (this.#waiter) {
      const w = this.#waiter;
      this.#waiter = null;
      w({ value: undefined, done: true });
    }
  }
}
