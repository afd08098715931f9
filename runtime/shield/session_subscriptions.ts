/**
 * Subscription frames of a session: subscribe (with replay of the durable log),
 * unsubscribe, credit and history.get, with the subscriptions and grants it holds.
 * @module
 */
import {
  BusError,
  compileSpectralFilter,
  decodePulse,
  DeliveryOrder,
  type IHistoryGet,
  type ISubscribe,
  OverflowPolicy,
  StartMode,
} from "../protocol/mod.ts";
import {
  type AnycastInput,
  type OverflowMode,
  StampedPulse,
  type Subscription,
} from "../spine/mod.ts";
import { historyQueryFromFrame, sendHistory } from "./history_frames.ts";
import { replayHistory } from "./history_replay.ts";
import type { SubscriptionAccess } from "./auth/mod.ts";
import type { DeliveryFilter } from "./session_outbox.ts";
import { refuseInboxPattern } from "./reply_guard.ts";
import type { FramesContext } from "./session_context.ts";
import { CAUSAL_TIMEOUT_DEFAULT_MS, CAUSAL_TIMEOUT_MAX_MS } from "./causal_gate.ts";

const OVERFLOW_BY_WIRE: Record<number, OverflowMode | undefined> = {
  [OverflowPolicy.DROP_OLDEST]: "drop-oldest",
  [OverflowPolicy.DROP_NEW]: "drop-new",
  [OverflowPolicy.DISCONNECT]: "disconnect",
};

/** The subscriptions of one session, with the grants they hold. */
export class SessionSubscriptions {
  readonly #ctx: FramesContext;
  // Created on first use: an idle connection holds neither (memory per connection).
  #subsMap: Map<number, Subscription> | undefined;
  #grantsMap: Map<number, SubscriptionAccess> | undefined;
  get #subs(): Map<number, Subscription> {
    return this.#subsMap ??= new Map();
  }
  get #grants(): Map<number, SubscriptionAccess> {
    return this.#grantsMap ??= new Map();
  }

  /** Creates the subscription handling of a new session. */
  constructor(ctx: FramesContext) {
    this.#ctx = ctx;
  }

  /** Subscriptions held. */
  get count(): number {
    return this.#subsMap?.size ?? 0;
  }

  /** Whether any subscription has deliveries waiting. */
  get deliveriesWaiting(): boolean {
    for (const sub of this.#subsMap?.values() ?? []) if (sub.ready) return true;
    return false;
  }

  /** The filter a subscription's deliveries pass, when its pattern overlaps a denied topic. */
  filterOf(sub: Subscription): DeliveryFilter | undefined {
    return this.#grants.get(sub.spec.id)?.filterDeliveries ? this.#ctx.access : undefined;
  }

  /** Grants `count` more deliveries to a subscription. */
  credit(id: number, count: number): void {
    const sub = this.#subs.get(id);
    if (!sub) throw new BusError("NOT_FOUND", "no such subscription");
    return sub.grant(count);
  }

  /** Releases every subscription and grant (the session ended). */
  close(): void {
    for (const sub of this.#subsMap?.values() ?? []) this.#ctx.spine.unsubscribe(sub);
    this.#subsMap?.clear();
    for (const grant of this.#grantsMap?.values() ?? []) grant.release();
    this.#grantsMap?.clear();
  }

  /** The anycast embeddings of this connection's card, if it presented any. */
  cardAnycast: AnycastInput | undefined;

  // The frame's embeddings; a frame without vectors (or without `anycast`) takes the card's.
  #anycastOf(s: ISubscribe): AnycastInput | undefined {
    const a = s.anycast;
    const card = this.cardAnycast;
    if (!a) return card && { ...card, fromCard: true };
    const vectors = (a.vectors ?? []).map((e) => e.values ?? []);
    if (vectors.length > 0) return { vectors, minScore: a.minScore ?? 0 };
    if (!card) {
      throw new BusError(
        "INVALID_ARGUMENT",
        "anycast: no vectors, and the connection's card has none",
      );
    }
    return { vectors: card.vectors, minScore: a.minScore || card.minScore };
  }

  subscribe(s: ISubscribe): void {
    const id = s.subscriptionId ?? 0;
    if (id === 0) throw new BusError("INVALID_ARGUMENT", "subscription_id must be non-zero");
    if (this.#subs.has(id)) throw new BusError("INVALID_ARGUMENT", `subscription ${id} exists`);
    const max = this.#ctx.options.maxSubscriptionsPerConnection;
    if (this.#subs.size >= max) {
      throw new BusError(
        "TOO_MANY_SUBSCRIPTIONS",
        `a connection may hold at most ${max} subscriptions`,
      );
    }
    if ((s.start ?? StartMode.LIVE) !== StartMode.LIVE) {
      if (!this.#ctx.store) {
        throw new BusError(
          "INVALID_ARGUMENT",
          "replay (start from_sequence/from_time) needs a durable log; this node has none",
        );
      }
      if (s.queueGroup) {
        throw new BusError("INVALID_ARGUMENT", "replay is not supported for queue groups");
      }
    }
    refuseInboxPattern(s.pattern ?? "");
    const causalTimeout = causalTimeoutOf(s);
    const spectralFilter = s.spectralFilter ? compileSpectralFilter(s.spectralFilter) : undefined;
    const grant = this.#ctx.access?.admitSubscribe(s.realityId ?? "", s.pattern ?? "");
    let sub: Subscription;
    try {
      sub = this.#ctx.spine.subscribe(this.#ctx.session, {
        id,
        realityId: s.realityId ?? "",
        pattern: s.pattern ?? "",
        queueGroup: s.queueGroup ?? "",
        overflow: OVERFLOW_BY_WIRE[s.overflow ?? 0],
        maxMessages: s.maxQueueMessages ?? 0,
        maxBytes: s.maxQueueBytes ?? 0,
        maxInFlight: s.maxInFlight ?? 0,
        spectralFilter,
        anycast: this.#anycastOf(s),
      });
    } catch (err) {
      grant?.release();
      throw err;
    }
    if (grant) this.#grants.set(id, grant);
    this.#subs.set(id, sub);
    if (causalTimeout > 0) this.#ctx.outbox.causal(sub, causalTimeout);
    this.#ctx.outbox.send({
      subscribed: { correlationId: s.correlationId ?? 0, subscriptionId: id },
    });
    if ((s.start ?? StartMode.LIVE) !== StartMode.LIVE) this.#replay(sub, s);
  }

  // Live pulses queue from the moment the subscription exists; history up to the
  // sequence reached at that moment is replayed ahead of them: no gap, no duplicate.
  #replay(sub: Subscription, s: ISubscribe): void {
    const store = this.#ctx.store!;
    const upTo = this.#ctx.spine.reality(sub.spec.realityId).sequence;
    sub.beginReplay();
    const fromTime = s.start === StartMode.FROM_TIME;
    replayHistory(store, {
      reality: sub.spec.realityId,
      pattern: sub.spec.pattern,
      fromSeq: fromTime ? undefined : Math.max(1, s.fromSequence ?? 1),
      fromTimeMs: fromTime ? s.fromTimeMs ?? 0 : undefined,
      toSeq: upTo,
    }, {
      feed: (pulses) =>
        sub.feedReplay(pulses.map((p) => StampedPulse.fromStored(decodePulse(p.bytes), p.bytes))),
      backlog: () => sub.replayBacklog,
      closed: () => sub.closed || this.#ctx.session.ended,
    }).then(
      () => sub.endReplay(),
      (err) => {
        sub.endReplay();
        this.#ctx.outbox.fail(err, s.correlationId ?? 0);
      },
    );
  }

  historyGet(h: IHistoryGet): void {
    const correlationId = h.correlationId ?? 0;
    const store = this.#ctx.store;
    if (!store) throw new BusError("INVALID_ARGUMENT", "history needs a durable log");
    const query = historyQueryFromFrame(h, "default");
    refuseInboxPattern(query.pattern ?? "");
    // Reading history is subscribing to the past: the same grants apply.
    if (this.#ctx.access?.admitRead(query.reality, query.pattern ?? ">").filterDeliveries) {
      throw new BusError("FORBIDDEN", `"${query.pattern ?? ">"}" overlaps a denied topic`);
    }
    const t = this.#ctx.transport;
    sendHistory(store, query, correlationId, {
      format: this.#ctx.outbox.format,
      send: (message) => t.send(message),
      sendEncoded: t.sendEncoded ? (message) => t.sendEncoded!(message) : undefined,
      bufferedAmount: () => t.bufferedAmount(),
      closed: () => this.#ctx.session.ended,
      drained: t.drained ? (bytes) => t.drained!(bytes) : undefined,
    }, { highWaterBytes: this.#ctx.options.highWaterBytes }).catch((err) =>
      this.#ctx.outbox.fail(err, correlationId)
    );
  }

  unsubscribe(id: number): void {
    const sub = this.#subs.get(id);
    if (!sub) throw new BusError("NOT_FOUND", `no subscription ${id}`);
    this.#subs.delete(id);
    this.#ctx.outbox.forget(sub);
    this.#ctx.spine.unsubscribe(sub);
    this.#grants.get(id)?.release();
    this.#grants.delete(id);
  }
}

/**
 * The causal timeout of a subscribe frame in ms (0: arrival order). INVALID_ARGUMENT for an
 * unknown order or a timeout past the maximum.
 */
function causalTimeoutOf(s: ISubscribe): number {
  const order = s.order ?? DeliveryOrder.ARRIVAL;
  const timeout = s.causalTimeoutMs ?? 0;
  if (order === DeliveryOrder.ARRIVAL) return 0;
  if (order !== DeliveryOrder.CAUSAL) {
    throw new BusError("INVALID_ARGUMENT", `order ${order} is neither ARRIVAL nor CAUSAL`);
  }
  if (timeout > CAUSAL_TIMEOUT_MAX_MS) {
    throw new BusError(
      "INVALID_ARGUMENT",
      `causal_timeout_ms is at most ${CAUSAL_TIMEOUT_MAX_MS}`,
    );
  }
  return timeout || CAUSAL_TIMEOUT_DEFAULT_MS;
}
