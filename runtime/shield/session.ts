/**
 * One client connection's protocol state machine, independent of the carrier: decodes
 * frames, drives the Spine, and drains the connection's subscription queues into
 * batched outbound messages while the transport keeps up (backpressure).
 * @module
 */
import {
  AckMode,
  BatchBuilder,
  BusError,
  decodeFrame,
  decodeFrameJson,
  decodePulse,
  encodeFrame,
  type ErrorCodeName,
  errorCodeValue,
  frameToJsonObject,
  type FrameVisitor,
  type IFrame,
  type IHistoryGet,
  InvalidUtf8Error,
  type IPublish,
  type IPulse,
  type IRequest,
  type ISubscribe,
  OverflowPolicy,
  peekPublishReality,
  PROTOCOL_VERSION,
  scanFrames,
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
import { historyQueryFromFrame, replayHistory, sendHistory, type SqliteLog } from "../store/mod.ts";
import type { NodeMetrics } from "../telemetry/mod.ts";
import type { Transport, TransportSession } from "../transport/transport.ts";
import type { NodeAccess, SessionAccess, SubscriptionAccess } from "./auth/mod.ts";
import type { NodeConfig } from "./config.ts";
import type { FairScheduler } from "./limits/mod.ts";
import type { StallWatch } from "./stall_watch.ts";

/** Frame encoding of a session. */
export type WireFormat = "proto" | "json";

/** What a session needs from its node. */
export interface SessionContext {
  readonly spine: Spine;
  /** The durable log: history.get and replaying subscriptions. */
  readonly store?: SqliteLog;
  readonly metrics: NodeMetrics;
  readonly config: NodeConfig;
  readonly nodeId: string;
  /** Called once when the session ends. */
  readonly onEnd: (session: Session) => void;
  /** Authentication, permissions, rate limits and quotas; absent: open and unlimited. */
  readonly access?: NodeAccess;
  /** Where stalled sessions wait to be resumed. */
  readonly stalls?: StallWatch;
  /** Shares the node's ingress fairly between realities; absent: work runs as it arrives. */
  readonly fairness?: FairScheduler;
}

const OVERFLOW_BY_WIRE: Record<number, OverflowMode | undefined> = {
  [OverflowPolicy.DROP_OLDEST]: "drop-oldest",
  [OverflowPolicy.DROP_NEW]: "drop-new",
  [OverflowPolicy.DISCONNECT]: "disconnect",
};

// Deliveries taken from one subscription before moving to the next (fairness).
const TAKE_PER_TURN = 256;

// Unacknowledged pulses shed by the ingress scheduler are reported at most this often.
const SHED_NOTICE_MS = 1000;

let sessionCounter = 0;

/** A client session; lives as long as its transport connection. */
export class Session implements TransportSession, SubscriptionOwner {
  /** Unique within the node. */
  readonly id: string;
  readonly #ctx: SessionContext;
  readonly #transport: Transport;
  readonly #format: WireFormat;
  #producerId: string;
  #subs = new Map<number, Subscription>();
  #ready = new Set<Subscription>();
  #control: IFrame[] = [];
  #scheduled = false;
  #stallTimer: ReturnType<typeof setTimeout> | undefined;
  #chain: Promise<void> | null = null;
  #ended = false;
  #draining = false;
  readonly #delivered = new Map<string, { inc(n: number): void }>();
  readonly #access: SessionAccess | undefined;
  readonly #grants = new Map<number, SubscriptionAccess>();
  /** Received messages waiting in the fair scheduler, and the reality lane they wait in. */
  #backlog = 0;
  #backlogReality = "";
  #shedUnreported = 0;
  #shedNoticeAt = 0;
  #shedWindowAt = 0;
  #shedInWindow = 0;

  /** Starts a session on a transport that just connected. */
  constructor(ctx: SessionContext, transport: Transport, format: WireFormat) {
    this.#ctx = ctx;
    this.#transport = transport;
    this.#format = format;
    this.id = `${ctx.nodeId}-${++sessionCounter}`;
    this.#producerId = this.id;
    // A connection that keeps flooding past its rate limit is closed (policy violation).
    this.#access = ctx.access?.session(
      transport.kind,
      (reason) => this.close(1008, reason),
      transport.remote,
    );
    ctx.metrics.connections.labels(transport.kind).inc();
  }

  /** Subscriptions this session holds. */
  get subscriptionCount(): number {
    return this.#subs.size;
  }

  /** Whether every queue and the transport buffer are empty. */
  get idle(): boolean {
    if (this.#control.length > 0 || this.#backlog > 0) return false;
    for (const sub of this.#subs.values()) if (sub.ready) return false;
    return this.#transport.bufferedAmount() === 0;
  }

  // ---- inbound -------------------------------------------------------------------------

  /** Handles one received transport message. */
  receive(data: Uint8Array | string): void {
    if (this.#ended) return;
    this.#ctx.stalls?.poll();
    // A transport that reads on demand is read in turn with every other socket, one read
    // per readiness check, and its flood waits in TCP: it needs no queue here.
    const fair = this.#transport.readsOnDemand ? undefined : this.#ctx.fairness;
    if (fair) {
      const size = typeof data === "string" ? data.length : data.byteLength;
      // Behind its own queued messages a session's next message queues too: its order holds.
      if (this.#backlog > 0) return this.#defer(fair, this.#backlogReality, data, size);
      const reality = typeof data === "string" ? jsonRealityOf(data) : peekPublishReality(data);
      if (reality !== undefined) {
        if (!fair.runNow(reality, () => this.#receiveOne(data))) {
          return this.#defer(fair, reality, data, size);
        }
        return this.#answerNow();
      }
    }
    this.#receiveOne(data);
    this.#answerNow();
  }

  /** Queues a received message in its reality's lane; a full lane sheds its publishes. */
  #defer(fair: FairScheduler, reality: string, data: Uint8Array | string, size: number): void {
    const refusal = fair.submit(reality, () => {
      this.#backlog--;
      // Messages received before the connection closed are still carried out (publishes);
      // #dispatchNow skips what needs a live session.
      this.#receiveOne(data);
      this.#answerNow();
    }, size);
    if (refusal) {
      this.#shed(reality || "default", data, refusal.message);
      this.#answerNow();
      return;
    }
    this.#backlog++;
    this.#backlogReality = reality;
    this.#ctx.metrics.ingressDeferred.labels(reality || "default").inc();
  }

  /**
   * Refuses the publishes of a message the scheduler could not take: acknowledged ones get
   * RATE_LIMITED with their correlation id, unacknowledged ones are counted and reported
   * once a second. Its other frames (subscribe, ping, credit...) are carried out.
   */
  #shed(reality: string, data: Uint8Array | string, message: string): void {
    let shed = 0;
    const refuse = (correlationId: number, ack: number) => {
      shed++;
      if (ack !== AckMode.NONE) this.#error("RATE_LIMITED", message, correlationId);
      else this.#shedUnreported++;
    };
    if (typeof data !== "string") {
      const handled = scanFrames(data, {
        publish: refuse,
        other: this.#visitor.other,
        nestedBatch: this.#visitor.nestedBatch,
      });
      if (!handled) return this.#receiveOne(data); // malformed: the decoder says why
    } else {
      let frame: IFrame;
      try {
        frame = decodeFrameJson(data);
      } catch {
        return this.#receiveOne(data);
      }
      const frames = frame.kind === "batch" ? frame.batch?.frames ?? [] : [frame];
      for (const f of frames) {
        const kind = kindOf(f);
        if (kind === "publish") refuse(f.publish!.correlationId ?? 0, f.publish!.ack ?? 0);
        else if (kind && kind !== "batch") this.#dispatch(f, kind);
      }
    }
    this.#ctx.metrics.ingressShed.labels(reality).inc(shed);
    const now = Date.now();
    if (this.#floodingTooLong(now, shed, reality)) return;
    if (this.#shedUnreported > 0 && now - this.#shedNoticeAt >= SHED_NOTICE_MS) {
      this.#shedNoticeAt = now;
      this.#error(
        "RATE_LIMITED",
        `${this.#shedUnreported} unacknowledged pulses shed: ${message}`,
      );
      this.#shedUnreported = 0;
    }
  }

  #receiveOne(data: Uint8Array | string): void {
    const size = typeof data === "string" ? data.length : data.byteLength;
    if (size > this.#ctx.config.maxFrameBytes) {
      this.#error(
        "FRAME_TOO_LARGE",
        `frame of ${size} bytes exceeds the limit of ${this.#ctx.config.maxFrameBytes}`,
      );
      return;
    }
    if (typeof data !== "string" && scanFrames(data, this.#visitor)) return;
    let frame: IFrame;
    try {
      frame = typeof data === "string" ? decodeFrameJson(data) : decodeFrame(data);
    } catch (err) {
      const e = err instanceof BusError ? err : new BusError("INVALID_FRAME", String(err));
      this.#error(e.code, e.message);
      return;
    }
    if (frame.kind === "batch") {
      for (const inner of frame.batch?.frames ?? []) {
        const kind = kindOf(inner);
        if (kind === "batch") {
          this.#error("PROTOCOL_VIOLATION", "batches do not nest");
          continue;
        }
        if (!kind) {
          this.#error("UNKNOWN_FRAME", "batched frame carries no known frame type");
          continue;
        }
        this.#dispatch(inner, kind);
      }
    } else {
      this.#dispatch(frame, frame.kind!);
    }
  }

  // Hot path for binary frames: publishes arrive with their pulse bytes, which the
  // node forwards to subscribers with its stamp appended instead of re-encoding.
  readonly #visitor: FrameVisitor = {
    publish: (correlationId, ack, bytes) => {
      let pulse: IPulse;
      try {
        pulse = decodePulse(bytes);
      } catch (err) {
        const e = err instanceof InvalidUtf8Error
          ? new BusError("INVALID_UTF8", err.message)
          : new BusError("INVALID_FRAME", `publish carries an invalid pulse: ${err}`);
        return this.#fail(e, correlationId);
      }
      this.#dispatch({ publish: { correlationId, ack, pulse } }, "publish", bytes);
    },
    other: (frame) => {
      let decoded: IFrame;
      try {
        decoded = decodeFrame(frame);
      } catch (err) {
        const e = err instanceof BusError ? err : new BusError("INVALID_FRAME", String(err));
        return this.#error(e.code, e.message);
      }
      if (decoded.kind === "batch") return this.#error("PROTOCOL_VIOLATION", "batches do not nest");
      this.#dispatch(decoded, decoded.kind!);
    },
    nestedBatch: () => this.#error("PROTOCOL_VIOLATION", "batches do not nest"),
  };

  #dispatch(frame: IFrame, kind: string, source?: Uint8Array): void {
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

  /**
   * Counts shed pulses; a connection that keeps publishing into a full lane past
   * `--rate-kick` refusals a second is closed. Deno's WebSocket reader hands the node
   * every message a socket has buffered before it reads any other socket, and the node
   * cannot pause that read: shedding makes a flood cheap, closing it ends it.
   */
  #floodingTooLong(now: number, shed: number, reality: string): boolean {
    const limit = this.#ctx.config.rateKick;
    if (limit <= 0) return false;
    if (now - this.#shedWindowAt >= 1000) {
      this.#shedWindowAt = now;
      this.#shedInWindow = 0;
    }
    this.#shedInWindow += shed;
    if (this.#shedInWindow < limit) return false;
    const reason = `flooding past its fair share: ${this.#shedInWindow} pulses shed in 1 s`;
    this.#ctx.metrics.disconnects.labels(reality, "flood").inc();
    this.#access?.kickedForFlood(reason);
    this.#error("RATE_LIMITED", reason);
    this.#answerNow();
    this.close(1008, reason);
    return true;
  }

  #dispatchNow(frame: IFrame, kind: string, source?: Uint8Array): Promise<void> | void {
    if (this.#ended && kind !== "publish") return;
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
          return this.#send({ pong: { nonce: frame.ping!.nonce ?? 0 } });
        case "pong":
        case "error":
          return;
        default:
          throw new BusError("PROTOCOL_VIOLATION", `clients do not send '${kind}' frames`);
      }
    } catch (err) {
      this.#fail(err, correlationOf(frame));
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
    if (access && this.#ctx.access!.required) {
      // Token or DID: verified asynchronously; a DID without a signature gets a challenge.
      return access.hello(hello).then((challenge) => {
        if (challenge) return this.#send({ challenge });
        this.#producerId = access.producerId(this.#producerId);
        this.#welcome();
      }, (err) => this.#fail(err, 0));
    }
    this.#welcome();
  }

  #welcome(): void {
    this.#send({
      welcome: {
        nodeId: this.#ctx.nodeId,
        protocolVersion: PROTOCOL_VERSION,
        capabilities: ["batch", "request", "credit", "queue-groups"],
        sessionId: this.id,
        maxFrameBytes: this.#ctx.config.maxFrameBytes,
      },
    });
  }

  #publish(publish: IPublish, source?: Uint8Array): Promise<void> | void {
    if (this.#draining) throw new BusError("SHUTTING_DOWN", "the node is shutting down");
    if (!publish.pulse) throw new BusError("INVALID_ARGUMENT", "publish carries no pulse");
    const p = publish.pulse;
    // An unacknowledged publish over its rate may be dropped quietly (false): refusals
    // of a flood are reported once a second, not once per pulse.
    const acked = (publish.ack ?? AckMode.NONE) !== AckMode.NONE;
    const size = p.payload?.length ?? 0;
    if (this.#access?.admitPublish(p.realityId ?? "", p.topic ?? "", size, acked) === false) return;
    const result = this.#ctx.spine.publish(publish.pulse, this.#producerId, source);
    if (result instanceof Promise) {
      return result.then(
        (stamped) => this.#acknowledge(publish, stamped),
        (err) => this.#fail(err, publish.correlationId ?? 0),
      );
    }
    this.#acknowledge(publish, result);
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
        () => this.#send(ack),
        (err) => this.#fail(err, publish.correlationId ?? 0),
      );
      return;
    }
    this.#send(ack);
  }

  #subscribe(s: ISubscribe): void {
    const id = s.subscriptionId ?? 0;
    if (id === 0) throw new BusError("INVALID_ARGUMENT", "subscription_id must be non-zero");
    if (this.#subs.has(id)) throw new BusError("INVALID_ARGUMENT", `subscription ${id} exists`);
    if (this.#subs.size >= this.#ctx.config.maxSubscriptionsPerConnection) {
      throw new BusError(
        "TOO_MANY_SUBSCRIPTIONS",
        `a connection may hold at most ${this.#ctx.config.maxSubscriptionsPerConnection} subscriptions`,
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
    const grant = this.#access?.admitSubscribe(s.realityId ?? "", s.pattern ?? "");
    let sub: Subscription;
    try {
      sub = this.#ctx.spine.subscribe(this, {
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
    this.#send({ subscribed: { correlationId: s.correlationId ?? 0, subscriptionId: id } });
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
      closed: () => sub.closed || this.#ended,
    }).then(
      () => sub.endReplay(),
      (err) => {
        sub.endReplay();
        this.#fail(err, s.correlationId ?? 0);
      },
    );
  }

  #historyGet(h: IHistoryGet): void {
    const correlationId = h.correlationId ?? 0;
    const store = this.#ctx.store;
    if (!store) throw new BusError("INVALID_ARGUMENT", "history needs a durable log");
    const query = historyQueryFromFrame(h, "default");
    // Reading history is subscribing to the past: the same grants apply.
    if (this.#access?.admitRead(query.reality, query.pattern ?? ">").filterDeliveries) {
      throw new BusError("FORBIDDEN", `"${query.pattern ?? ">"}" overlaps a denied topic`);
    }
    sendHistory(store, query, correlationId, {
      format: this.#format,
      send: (message) => this.#transport.send(message),
      bufferedAmount: () => this.#transport.bufferedAmount(),
      closed: () => this.#ended,
      drained: this.#transport.drained ? (bytes) => this.#transport.drained!(bytes) : undefined,
    }, { highWaterBytes: this.#ctx.config.highWaterBytes }).catch((err) =>
      this.#fail(err, correlationId)
    );
  }

  #unsubscribe(id: number): void {
    const sub = this.#subs.get(id);
    if (!sub) throw new BusError("NOT_FOUND", `no subscription ${id}`);
    this.#subs.delete(id);
    this.#ready.delete(sub);
    this.#ctx.spine.unsubscribe(sub);
    this.#grants.get(id)?.release();
    this.#grants.delete(id);
  }

  #request(r: IRequest): void {
    if (!r.pulse) throw new BusError("INVALID_ARGUMENT", "request carries no pulse");
    this.#access?.admitPublish(
      r.pulse.realityId ?? "",
      r.pulse.topic ?? "",
      r.pulse.payload?.length ?? 0,
    );
    const correlationId = r.correlationId ?? 0;
    const timeout = r.timeoutMs || this.#ctx.config.requestTimeoutMs;
    requestReply(this.#ctx.spine, r.pulse, this.#producerId, timeout).then(
      (pulse) => {
        this.#ctx.metrics.requests.labels("ok").inc();
        this.#send({ reply: { correlationId, pulse } });
      },
      (err) => {
        const code = err instanceof BusError ? err.code : "INTERNAL";
        this.#ctx.metrics.requests.labels(code.toLowerCase()).inc();
        this.#fail(err, correlationId);
      },
    );
  }

  // ---- outbound ------------------------------------------------------------------------

  #send(frame: IFrame): void {
    this.#control.push(frame);
    this.#schedule();
  }

  /**
   * Sends this session's acks, pongs and errors right away, ahead of the fan-out the same
   * message caused: a publisher pacing on acks or pings gets its answer before the node
   * spends its turn building other subscribers' batches.
   */
  #answerNow(): void {
    if (this.#control.length === 0 || this.#ended) return; // even stalled: the transport bounds it
    const out = this.#format === "proto"
      ? new ProtoBatch(this.#ctx.config.maxBatchBytes)
      : new JsonBatch();
    const control = this.#control;
    this.#control = [];
    for (const frame of control) {
      out.addFrame(frame);
      if (out.full) this.#sendOut(out);
    }
    this.#sendOut(out);
  }

  #sendOut(out: ProtoBatch | JsonBatch): void {
    const msg = out.finish();
    if (msg === null) return;
    this.#ctx.metrics.outboundMessages.labels(this.#transport.kind).inc();
    this.#ctx.metrics.outboundFrames.labels(this.#transport.kind).inc(out.lastCount);
    this.#transport.send(msg);
  }

  #error(code: ErrorCodeName, message: string, correlationId = 0): void {
    this.#ctx.metrics.errors.labels(this.#transport.kind, code).inc();
    this.#send({ error: { code: errorCodeValue(code), message, correlationId } });
  }

  #fail(err: unknown, correlationId: number): void {
    if (err instanceof BusError) this.#error(err.code, err.message, correlationId);
    else this.#error("INTERNAL", `internal error: ${(err as Error)?.message}`, correlationId);
  }

  /** SubscriptionOwner: a subscription has deliveries or a drop notice waiting. */
  wake(sub: Subscription): void {
    this.#ready.add(sub);
    this.#schedule();
  }

  /** SubscriptionOwner: a `disconnect` subscription overflowed; close the connection. */
  overflowed(sub: Subscription): void {
    if (this.#ended) return;
    this.#ctx.metrics.disconnects.labels(sub.spec.realityId, "slow_consumer").inc();
    this.#ctx.metrics.errors.labels(this.#transport.kind, "SLOW_CONSUMER").inc();
    const notice: IFrame = {
      error: {
        code: errorCodeValue("SLOW_CONSUMER"),
        message: `subscription ${sub.spec.id} overflowed its queue; disconnecting`,
        subscriptionId: sub.spec.id,
      },
    };
    try {
      this.#transport.send(
        this.#format === "proto" ? encodeFrame(notice) : JSON.stringify(
          frameToJsonObject(notice),
        ),
      );
    } catch { /* the transport may already be failing */ }
    this.#transport.close(1008, "slow consumer");
    this.closed();
  }

  #schedule(): void {
    if (this.#scheduled || this.#ended || this.#stallTimer !== undefined) return;
    this.#scheduled = true;
    queueMicrotask(() => this.#flush());
  }

  #flush(): void {
    this.#scheduled = false;
    if (this.#ended) return;
    const t = this.#transport;
    const { highWaterBytes, maxBatchBytes } = this.#ctx.config;
    if (t.bufferedAmount() > highWaterBytes) {
      this.#stall();
      return;
    }
    const out = this.#format === "proto" ? new ProtoBatch(maxBatchBytes) : new JsonBatch();
    const send = (): boolean => {
      this.#sendOut(out);
      return t.bufferedAmount() <= highWaterBytes;
    };
    const control = this.#control;
    this.#control = [];
    for (const frame of control) {
      out.addFrame(frame);
      if (out.full && !send()) {
        this.#control = control.slice(control.indexOf(frame) + 1).concat(this.#control);
        this.#stall();
        return;
      }
    }
    for (const sub of this.#ready) {
      if (sub.unreportedDrops > 0) {
        const n = sub.unreportedDrops;
        sub.unreportedDrops = 0;
        this.#ctx.metrics.errors.labels(t.kind, "SLOW_CONSUMER").inc();
        out.addFrame({
          error: {
            code: errorCodeValue("SLOW_CONSUMER"),
            message: `${n} deliveries dropped: subscriber is not keeping up`,
            subscriptionId: sub.spec.id,
            dropped: n,
          },
        });
      }
      let counter = this.#delivered.get(sub.spec.realityId);
      if (!counter) {
        counter = this.#ctx.metrics.delivered.labels(sub.spec.realityId);
        this.#delivered.set(sub.spec.realityId, counter);
      }
      while (sub.ready) {
        const items = sub.take(TAKE_PER_TURN);
        // Patterns overlapping a denied topic deliver only what the principal may see.
        const filter = this.#grants.get(sub.spec.id)?.filterDeliveries ? this.#access : undefined;
        for (const p of items) {
          if (filter && !filter.canReceive(p.pulse.topic ?? "")) continue;
          out.addDeliver(sub.spec.id, p);
        }
        counter.inc(items.length);
        if (out.full && !send()) {
          if (!sub.ready) this.#ready.delete(sub);
          this.#stall();
          return;
        }
      }
      this.#ready.delete(sub);
    }
    send();
  }

  #stall(): void {
    if (this.#stallTimer !== undefined || this.#ended) return;
    this.#ctx.metrics.transportStalls.labels(this.#transport.kind).inc();
    this.#ctx.stalls?.add(this);
    // No drain event exists on WebSocket: poll the buffer level until it falls.
    this.#stallTimer = setTimeout(() => {
      this.#stallTimer = undefined;
      this.#ctx.stalls?.delete(this);
      this.#schedule();
    }, 2);
  }

  /** Resumes writing when the transport buffer fell under the high-water mark. */
  resumeIfDrained(): boolean {
    if (this.#ended) return true;
    if (this.#transport.bufferedAmount() > this.#ctx.config.highWaterBytes) return false;
    clearTimeout(this.#stallTimer);
    this.#stallTimer = undefined;
    this.#schedule();
    return true;
  }

  // ---- lifecycle -----------------------------------------------------------------------

  /** Stops accepting publishes; queued deliveries still go out. */
  startDrain(): void {
    this.#draining = true;
  }

  /** Closes the transport (after draining, on shutdown). */
  close(code = 1001, reason = "node shutting down"): void {
    if (this.#ended) return;
    this.#transport.close(code, reason);
    this.closed();
  }

  /** TransportSession: the connection is gone; release everything. */
  closed(): void {
    if (this.#ended) return;
    this.#ended = true;
    clearTimeout(this.#stallTimer);
    this.#ctx.stalls?.delete(this);
    for (const sub of this.#subs.values()) this.#ctx.spine.unsubscribe(sub);
    this.#subs.clear();
    this.#ready.clear();
    for (const grant of this.#grants.values()) grant.release();
    this.#grants.clear();
    this.#access?.close();
    this.#ctx.metrics.connections.labels(this.#transport.kind).dec();
    this.#ctx.onEnd(this);
  }
}

/**
 * The reality a JSON message publishes to, for the ingress scheduler: a cheap look, not
 * a parse (the full decode comes later and reports any error).
 */
function jsonRealityOf(text: string): string | undefined {
  if (!text.includes('"publish"')) return undefined;
  const m = /"reality(?:Id|_id)"\s*:\s*"([^"\\]*)"/.exec(text);
  return m ? m[1] : "";
}

/** The member name of a (possibly plain-object) frame. */
function kindOf(frame: IFrame): string | undefined {
  if (frame.kind) return frame.kind;
  for (const key of Object.keys(frame)) {
    if ((frame as Record<string, unknown>)[key] != null) return key;
  }
  return undefined;
}

function correlationOf(frame: IFrame): number {
  return frame.publish?.correlationId ?? frame.request?.correlationId ??
    frame.subscribe?.correlationId ?? frame.historyGet?.correlationId ?? 0;
}

/** Outbound message under construction for a protobuf session. */
class ProtoBatch {
  readonly #builder = new BatchBuilder();
  readonly #max: number;
  lastCount = 0;
  constructor(max: number) {
    this.#max = max;
  }
  get full(): boolean {
    return this.#builder.byteLength >= this.#max;
  }
  addFrame(frame: IFrame): void {
    this.#builder.addFrame(encodeFrame(frame));
  }
  addDeliver(subscriptionId: number, p: StampedPulse): void {
    const [head, tail] = p.parts;
    this.#builder.addDeliver(subscriptionId, head, tail);
  }
  finish(): Uint8Array | null {
    this.lastCount = this.#builder.count;
    return this.lastCount === 0 ? null : this.#builder.finish();
  }
}

/** Outbound message under construction for a JSON session. */
class JsonBatch {
  #frames: Record<string, unknown>[] = [];
  #bytes = 0;
  lastCount = 0;
  get full(): boolean {
    return this.#frames.length >= 256 || this.#bytes >= 256 * 1024;
  }
  addFrame(frame: IFrame): void {
    this.#frames.push(frameToJsonObject(frame));
    this.#bytes += 64;
  }
  addDeliver(subscriptionId: number, p: StampedPulse): void {
    this.#frames.push({ deliver: { subscriptionId, pulse: p.json } });
    this.#bytes += p.size * 1.4;
  }
  finish(): string | null {
    const frames = this.#frames;
    this.lastCount = frames.length;
    this.#frames = [];
    this.#bytes = 0;
    if (frames.length === 0) return null;
    return JSON.stringify(frames.length === 1 ? frames[0] : { batch: { frames } });
  }
}
