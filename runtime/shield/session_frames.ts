/**
 * What a session does with each frame a client sends: hello and authentication,
 * publish and its ack, subscribe (with replay), unsubscribe, credit, request/reply,
 * history and ping. Frames are carried out in arrival order, also when a publish waits
 * for an asynchronous policy. Answers go to the session's outbox.
 * @module
 */
import {
  AckMode,
  BusError,
  checkPulseBytes,
  decodePulse,
  type FrameReader,
  type IFrame,
  type IHistoryGet,
  InvalidUtf8Error,
  type IPublish,
  type IPulse,
  type IRequest,
  type ISubscribe,
  OverflowPolicy,
  PROTOCOL_VERSION,
  StartMode,
} from "../protocol/mod.ts";
import {
  type OverflowMode,
  requestReply,
  type Spine,
  StampedPulse,
  type Subscription,
  type SubscriptionOwner,
} from "../spine/mod.ts";
import type { DurableLog } from "../spine/mod.ts";
import { historyQueryFromFrame, sendHistory } from "./history_frames.ts";
import { replayHistory } from "./history_replay.ts";
import type { NodeMetrics } from "../telemetry/mod.ts";
import type { FrameJsonError } from "../protocol/mod.ts";
import type { Transport } from "../transport/mod.ts";
import type { SessionAccess, SubscriptionAccess } from "./auth/mod.ts";
import type { DeliveryFilter, Outbox } from "./session_outbox.ts";
import { authorizeReply, refuseInboxPattern, replySubjectOf } from "./reply_guard.ts";
import type { SessionOptions } from "./session_options.ts";

const OVERFLOW_BY_WIRE: Record<number, OverflowMode | undefined> = {
  [OverflowPolicy.DROP_OLDEST]: "drop-oldest",
  [OverflowPolicy.DROP_NEW]: "drop-new",
  [OverflowPolicy.DISCONNECT]: "disconnect",
};

/** What frame handling works with; lives as long as its session. */
export interface FramesContext {
  /** The node's Spine. */
  readonly spine: Spine;
  /** The durable log: history.get and replaying subscriptions. */
  readonly store?: DurableLog;
  /** The node's metrics. */
  readonly metrics: NodeMetrics;
  /** Limits and timeouts. */
  readonly options: SessionOptions;
  /** This node's id, reported in Welcome. */
  readonly nodeId: string;
  /** The session's id, reported in Welcome. */
  readonly sessionId: string;
  /** The connection: history answers are written to it at its own pace. */
  readonly transport: Transport;
  /** Where answers go. */
  readonly outbox: Outbox;
  /** The session: owns the subscriptions, and knows whether it ended. */
  readonly session: SubscriptionOwner & { readonly ended: boolean };
  /** This connection's permissions and limits; absent: open and unlimited. */
  readonly access?: SessionAccess;
  /** Whether every connection must authenticate before anything but hello and ping. */
  readonly authRequired: boolean;
  /** Told when the session was welcomed (its hello deadline is met). */
  readonly onWelcome?: () => void;
}

/** The frame handling of one session, with the subscriptions it holds. */
export class FrameHandler {
  readonly #ctx: FramesContext;
  readonly #outbox: Outbox;
  readonly #access: SessionAccess | undefined;
  #producerId: string;
  // Created on first use: an idle connection holds neither (memory per connection).
  #subsMap: Map<number, Subscription> | undefined;
  #grantsMap: Map<number, SubscriptionAccess> | undefined;
  get #subs(): Map<number, Subscription> {
    return this.#subsMap ??= new Map();
  }
  get #grants(): Map<number, SubscriptionAccess> {
    return this.#grantsMap ??= new Map();
  }
  #chain: Promise<void> | null = null;
  #draining = false;
  /** Requests waiting for their reply: each holds an inbox until it ends. */
  readonly #pending = new Set<AbortController>();

  /** Creates the handler of a new session. */
  constructor(ctx: FramesContext) {
    this.#ctx = ctx;
    this.#outbox = ctx.outbox;
    this.#access = ctx.access;
    this.#producerId = ctx.sessionId;
  }

  /** Subscriptions held. */
  get subscriptionCount(): number {
    return this.#subsMap?.size ?? 0;
  }

  /** Whether any subscription has deliveries waiting. */
  get deliveriesWaiting(): boolean {
    for (const sub of this.#subsMap?.values() ?? []) if (sub.ready) return true;
    return false;
  }

  /** Refuses publishes from now on (shutdown); everything else still works. */
  startDrain(): void {
    this.#draining = true;
  }

  /** The filter a subscription's deliveries pass, when its pattern overlaps a denied topic. */
  filterOf(sub: Subscription): DeliveryFilter | undefined {
    return this.#grants.get(sub.spec.id)?.filterDeliveries ? this.#access : undefined;
  }

  /**
   * Reads received frames into this handler: publishes arrive with their pulse bytes,
   * which the node forwards to subscribers with its stamp appended instead of re-encoding.
   */
  readonly reader: FrameReader = {
    publish: (correlationId, ack, bytes) => this.publishEncoded(correlationId, ack, bytes),
    frame: (frame, kind) => this.dispatch(frame, kind),
    // A refused JSON frame names its correlation id when it could be read.
    error: (e) => this.#outbox.error(e.code, e.message, (e as FrameJsonError).correlationId ?? 0),
  };

  /** A publish whose pulse arrived as protobuf bytes. */
  publishEncoded(correlationId: number, ack: number, bytes: Uint8Array): void {
    // These bytes are what subscribers and the log get: strict parsers must read them too.
    const malformed = checkPulseBytes(bytes);
    if (malformed) return this.#outbox.fail(malformed, correlationId);
    let pulse: IPulse;
    try {
      pulse = decodePulse(bytes);
    } catch (err) {
      const e = err instanceof InvalidUtf8Error
        ? new BusError("INVALID_UTF8", err.message)
        : new BusError("INVALID_FRAME", `publish carries an invalid pulse: ${err}`);
      return this.#outbox.fail(e, correlationId);
    }
    this.dispatch({ publish: { correlationId, ack, pulse } }, "publish", bytes);
  }

  /** Carries out one frame, after any earlier frame still waiting for a policy. */
  dispatch(frame: IFrame, kind: string, source?: Uint8Array): void {
    let link: Promise<void>;
    if (this.#chain) {
      // An earlier publish still awaits an asynchronous policy: keep arrival order.
      link = this.#chain.then(() => this.#dispatchNow(frame, kind, source));
    } else {
      const pending = this.#dispatchNow(frame, kind, source);
      if (!pending) return;
      link = pending;
    }
    const tail: Promise<void> = link.then(() => {
      if (this.#chain === tail) this.#chain = null;
    });
    this.#chain = tail;
  }

  /** Requests waiting for their reply. */
  get pendingRequests(): number {
    return this.#pending.size;
  }

  /** Releases every subscription, grant and pending request (the session ended). */
  close(): void {
    for (const pending of this.#pending) pending.abort(CONNECTION_CLOSED);
    this.#pending.clear();
    for (const sub of this.#subsMap?.values() ?? []) this.#ctx.spine.unsubscribe(sub);
    this.#subsMap?.clear();
    for (const grant of this.#grantsMap?.values() ?? []) grant.release();
    this.#grantsMap?.clear();
  }

  #dispatchNow(frame: IFrame, kind: string, source?: Uint8Array): Promise<void> | void {
    // Messages received before the connection closed are still carried out (publishes);
    // what needs a live session is skipped.
    if (this.#ctx.session.ended && kind !== "publish") return;
    try {
      if (this.#access && kind !== "hello" && kind !== "ping") this.#access.requireAdmitted();
      switch (kind) {
        case "hello":
          return this.#hello(frame);
        case "publish":
          return this.#publish(frame.publish!, source);
        case "subscribe":
          return this.#subscribe(frame.subscribe!);
        case "unsubscribe":
          return this.#unsubscribe(frame.unsubscribe!.subscriptionId ?? 0);
        case "credit": {
          const sub = this.#subs.get(frame.credit!.subscriptionId ?? 0);
          if (!sub) throw new BusError("NOT_FOUND", "no such subscription");
          return sub.grant(frame.credit!.count ?? 0);
        }
        case "request":
          return this.#request(frame.request!);
        case "historyGet":
          return this.#historyGet(frame.historyGet!);
        case "ping":
          return this.#outbox.send({ pong: { nonce: frame.ping!.nonce ?? 0 } });
        case "pong":
        case "error":
          return;
        default:
          throw new BusError("PROTOCOL_VIOLATION", `clients do not send '${kind}' frames`);
      }
    } catch (err) {
      this.#outbox.fail(err, correlationOf(frame));
    }
  }

  #hello(frame: IFrame): Promise<void> | void {
    const hello = frame.hello!;
    const version = hello.protocolVersion ?? 0;
    if (version > PROTOCOL_VERSION) {
      throw new BusError(
        "UNSUPPORTED_VERSION",
        `protocol version ${version} is not supported; this node speaks ${PROTOCOL_VERSION}`,
      );
    }
    if (hello.clientName) this.#producerId = hello.clientName;
    const access = this.#access;
    if (access && this.#ctx.authRequired) {
      // Token or DID: verified asynchronously; a DID without a signature gets a challenge.
      return access.hello(hello).then((challenge) => {
        if (challenge) return this.#outbox.send({ challenge });
        this.#producerId = access.producerId(this.#producerId);
        this.#welcome();
      }, (err) => this.#outbox.fail(err, 0));
    }
    this.#welcome();
  }

  #welcome(): void {
    this.#outbox.send({
      welcome: {
        nodeId: this.#ctx.nodeId,
        protocolVersion: PROTOCOL_VERSION,
        capabilities: ["batch", "request", "credit", "queue-groups"],
        sessionId: this.#ctx.sessionId,
        maxFrameBytes: this.#ctx.options.maxFrameBytes,
      },
    });
    this.#ctx.onWelcome?.();
  }

  /** A publish to a reality that does not exist yet creates it: only if the grants allow. */
  #admitReality(realityId: string | null | undefined): void {
    const id = realityId || "default";
    if (this.#access && !this.#ctx.spine.hasReality(id)) this.#access.admitNewReality(id);
  }

  #publish(publish: IPublish, source?: Uint8Array): Promise<void> | void {
    if (this.#draining) throw new BusError("SHUTTING_DOWN", "the node is shutting down");
    if (!publish.pulse) throw new BusError("INVALID_ARGUMENT", "publish carries no pulse");
    const p = publish.pulse;
    // An unacknowledged publish over its rate may be dropped quietly (false): refusals
    // of a flood are reported once a second, not once per pulse.
    const acked = (publish.ack ?? AckMode.NONE) !== AckMode.NONE;
    const size = p.payload?.length ?? 0;
    authorizeReply(this.#ctx.spine, p, this.#ctx.session, this.#replySubject());
    if (this.#access?.admitPublish(p.realityId ?? "", p.topic ?? "", size, acked) === false) return;
    this.#admitReality(p.realityId);
    const result = this.#ctx.spine.publish(publish.pulse, this.#producerId, source);
    if (result instanceof Promise) {
      return result.then(
        (stamped) => this.#acknowledge(publish, stamped),
        (err) => this.#outbox.fail(err, publish.correlationId ?? 0),
      );
    }
    this.#acknowledge(publish, result);
  }

  /** Who this connection's replies are checked against beside the connection itself. */
  #replySubject(): string | undefined {
    return replySubjectOf(this.#access?.principal, false);
  }

  #acknowledge(publish: IPublish, stamped: StampedPulse): void {
    const mode = publish.ack ?? AckMode.NONE;
    if (mode === AckMode.NONE) return;
    const ack = {
      ack: {
        correlationId: publish.correlationId ?? 0,
        id: stamped.pulse.id,
        sequence: stamped.pulse.sequence,
        realityId: stamped.pulse.realityId,
      },
    };
    if (mode === AckMode.DURABLE && stamped.committed) {
      stamped.committed.then(
        () => this.#outbox.send(ack),
        (err) => this.#outbox.fail(err, publish.correlationId ?? 0),
      );
      return;
    }
    this.#outbox.send(ack);
  }

  #subscribe(s: ISubscribe): void {
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
    const grant = this.#access?.admitSubscribe(s.realityId ?? "", s.pattern ?? "");
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
      });
    } catch (err) {
      grant?.release();
      throw err;
    }
    if (grant) this.#grants.set(id, grant);
    this.#subs.set(id, sub);
    this.#outbox.send({
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
        this.#outbox.fail(err, s.correlationId ?? 0);
      },
    );
  }

  #historyGet(h: IHistoryGet): void {
    const correlationId = h.correlationId ?? 0;
    const store = this.#ctx.store;
    if (!store) throw new BusError("INVALID_ARGUMENT", "history needs a durable log");
    const query = historyQueryFromFrame(h, "default");
    refuseInboxPattern(query.pattern ?? "");
    // Reading history is subscribing to the past: the same grants apply.
    if (this.#access?.admitRead(query.reality, query.pattern ?? ">").filterDeliveries) {
      throw new BusError("FORBIDDEN", `"${query.pattern ?? ">"}" overlaps a denied topic`);
    }
    const t = this.#ctx.transport;
    sendHistory(store, query, correlationId, {
      format: this.#outbox.format,
      send: (message) => t.send(message),
      bufferedAmount: () => t.bufferedAmount(),
      closed: () => this.#ctx.session.ended,
      drained: t.drained ? (bytes) => t.drained!(bytes) : undefined,
    }, { highWaterBytes: this.#ctx.options.highWaterBytes }).catch((err) =>
      this.#outbox.fail(err, correlationId)
    );
  }

  #unsubscribe(id: number): void {
    const sub = this.#subs.get(id);
    if (!sub) throw new BusError("NOT_FOUND", `no subscription ${id}`);
    this.#subs.delete(id);
    this.#outbox.forget(sub);
    this.#ctx.spine.unsubscribe(sub);
    this.#grants.get(id)?.release();
    this.#grants.delete(id);
  }

  #request(r: IRequest): void {
    if (!r.pulse) throw new BusError("INVALID_ARGUMENT", "request carries no pulse");
    authorizeReply(
      this.#ctx.spine,
      { topic: r.pulse.topic },
      this.#ctx.session,
      this.#replySubject(),
    );
    this.#access?.admitPublish(
      r.pulse.realityId ?? "",
      r.pulse.topic ?? "",
      r.pulse.payload?.length ?? 0,
    );
    this.#admitReality(r.pulse.realityId);
    // Each waiting request holds an inbox subscription: bounded per connection like
    // subscriptions, and released when the connection closes.
    const max = this.#ctx.options.maxPendingRequests;
    if (this.#pending.size >= max) {
      this.#ctx.metrics.limitHits.labels("max_pending_requests").inc();
      throw new BusError(
        "QUOTA_EXCEEDED",
        `a connection may have at most ${max} requests waiting for their reply`,
      );
    }
    const correlationId = r.correlationId ?? 0;
    const timeout = r.timeoutMs || this.#ctx.options.requestTimeoutMs;
    const pending = new AbortController();
    this.#pending.add(pending);
    requestReply(this.#ctx.spine, r.pulse, this.#producerId, timeout, pending.signal).then(
      (pulse) => {
        this.#pending.delete(pending);
        this.#ctx.metrics.requests.labels("ok").inc();
        this.#outbox.send({ reply: { correlationId, pulse } });
      },
      (err) => {
        this.#pending.delete(pending);
        if (err === CONNECTION_CLOSED) return;
        const code = err instanceof BusError ? err.code : "INTERNAL";
        this.#ctx.metrics.requests.labels(code.toLowerCase()).inc();
        this.#outbox.fail(err, correlationId);
      },
    );
  }
}

/** Why pending requests end when their session closes (nobody is left to answer). */
const CONNECTION_CLOSED = new BusError("UNSPECIFIED", "the requester's connection closed");

/** The correlation id an error about `frame` carries. */
function correlationOf(frame: IFrame): number {
  return frame.publish?.correlationId ?? frame.request?.correlationId ??
    frame.subscribe?.correlationId ?? frame.historyGet?.correlationId ?? 0;
}
