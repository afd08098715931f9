/**
 * One client connection's protocol state machine, independent of the carrier. The
 * session wires three parts and owns their common lifecycle:
 *
 * - ingress (`session_ingress.ts`): fair admission of received messages, shedding,
 *   flood kicks;
 * - frame handling (`session_frames.ts`): what each frame does to the Spine;
 * - the outbox (`session_outbox.ts`): batching, flushing, stalling at the high-water
 *   mark and resuming.
 *
 * The wire format is a `FrameCodec` (runtime/protocol): the session has no format branches.
 * @module
 */
import { replySubjectOf } from "./reply_guard.ts";
import { errorCodeValue, frameCodec, type WireFormat } from "../protocol/mod.ts";
import type { Spine, Subscription, SubscriptionOwner } from "../spine/mod.ts";
import type { DurableLog } from "../spine/mod.ts";
import type { NodeMetrics } from "../telemetry/mod.ts";
import type { Transport, TransportSession } from "../transport/mod.ts";
import type { NodeAccess, SessionAccess } from "./auth/mod.ts";
import type { FairScheduler } from "./limits/mod.ts";
import { FrameHandler } from "./session_frames.ts";
import { Ingress } from "./session_ingress.ts";
import type { SessionOptions } from "./session_options.ts";
import { Outbox } from "./session_outbox.ts";
import type { Resumable, StallWatch } from "./stall_watch.ts";

export type { WireFormat } from "../protocol/mod.ts";

/** What a session needs from its node. */
export interface SessionContext {
  /** The node's Spine: publishes, subscriptions, request/reply. */
  readonly spine: Spine;
  /** The durable log: history.get and replaying subscriptions. */
  readonly store?: DurableLog;
  /** The node's metrics. */
  readonly metrics: NodeMetrics;
  /** Limits, batching and timeouts (see `sessionOptions`). */
  readonly options: SessionOptions;
  /** This node's id, reported in Welcome and prefixed to session ids. */
  readonly nodeId: string;
  /** Called once when the session ends. */
  readonly onEnd: (session: Session) => void;
  /** Authentication, permissions, rate limits and quotas; absent: open and unlimited. */
  readonly access?: NodeAccess;
  /** Where stalled sessions wait to be resumed. */
  readonly stalls?: StallWatch;
  /** Shares the node's ingress fairly between realities; absent: work runs as it arrives. */
  readonly fairness?: FairScheduler;
  /** Calls back after the runtime looked at every socket (`IoTurn.schedule`). */
  readonly nextTurn?: (callback: () => void) => void;
}

/** Who is on the other end of a session, as the admin connections view shows it. */
export interface SessionPeer {
  /** The carrier: `ws`, `mqtt`, `shm`, ... */
  readonly transport: string;
  /** The client's address as the carrier knows it (`host:port`), or empty. */
  readonly remote: string;
  /** The authenticated subject (token subject or DID); absent without authentication. */
  readonly subject?: string;
}

let sessionCounter = 0;

/**
 * A client session; lives as long as its transport connection.
 *
 * @example
 * ```ts ignore
 * const session = new Session(
 *   { spine, metrics, options: SESSION_DEFAULTS, nodeId: "n1", onEnd: () => {} },
 *   new MemoryTransport(),
 *   "proto",
 * );
 * session.receive(encodeFrame({ hello: { protocolVersion: 1 } })); // answers Welcome
 * ```
 */
export class Session implements TransportSession, SubscriptionOwner, Resumable {
  /** Unique within the node. */
  readonly id: string;
  /** When the connection opened (epoch ms). */
  readonly openedAtMs: number = Date.now();
  readonly #ctx: SessionContext;
  readonly #transport: Transport;
  readonly #access: SessionAccess | undefined;
  readonly #outbox: Outbox;
  readonly #frames: FrameHandler;
  readonly #ingress: Ingress;
  #ended = false;
  #helloTimer: ReturnType<typeof setTimeout> | undefined;

  /** Starts a session on a transport that just connected. */
  constructor(ctx: SessionContext, transport: Transport, format: WireFormat) {
    this.#ctx = ctx;
    this.#transport = transport;
    this.id = `${ctx.nodeId}-${++sessionCounter}`;
    // A connection that keeps flooding past its rate limit is closed (policy violation).
    const access = ctx.access?.session(
      transport.kind,
      (reason) => this.close(1008, reason),
      transport.remote,
    );
    this.#access = access;
    const { metrics, options } = ctx;
    this.#outbox = new Outbox({
      transport,
      codec: frameCodec(format),
      options,
      metrics,
      stalls: ctx.stalls,
      tracer: ctx.spine.tracer,
      // The frame handler holds the grants; it is built next (it needs this outbox).
      filterOf: (sub) => this.#frames.filterOf(sub),
      sequenceOf: (realityId) => ctx.spine.sequenceOf(realityId),
    });
    this.#frames = new FrameHandler({
      spine: ctx.spine,
      store: ctx.store,
      metrics,
      options,
      nodeId: ctx.nodeId,
      sessionId: this.id,
      transport,
      outbox: this.#outbox,
      session: this,
      access,
      authRequired: ctx.access?.required ?? false,
      onWelcome: () => this.#welcomed(),
    });
    this.#ingress = new Ingress({
      transport,
      options,
      metrics,
      frames: this.#frames,
      outbox: this.#outbox,
      session: this,
      access,
      stalls: ctx.stalls,
      fairness: ctx.fairness,
      nextTurn: ctx.nextTurn,
    });
    metrics.connections.labels(transport.kind).inc();
    // A WebSocket or TCP client that never says hello would hold its socket forever: it
    // gets a deadline.
    const helloSeconds = options.helloTimeoutSeconds;
    if ((transport.kind === "ws" || transport.kind === "tcp") && helloSeconds > 0) {
      this.#helloTimer = setTimeout(() => this.#helloTimedOut(), helloSeconds * 1000);
    }
  }

  #welcomed(): void {
    clearTimeout(this.#helloTimer);
    this.#helloTimer = undefined;
  }

  #helloTimedOut(): void {
    this.#helloTimer = undefined;
    if (this.#ended) return;
    const seconds = this.#ctx.options.helloTimeoutSeconds;
    this.#ctx.metrics.limitHits.labels("hello_timeout").inc();
    this.#outbox.sendLast({
      error: {
        code: errorCodeValue("TIMEOUT"),
        message: `no hello within ${seconds} s; closing`,
      },
    });
    this.close(1008, "hello timeout");
  }

  /** The principal's reply identity (see `reply_guard.ts`): requests it receives, it may answer. */
  get replySubject(): string | undefined {
    return replySubjectOf(this.#access?.principal, false);
  }

  /** The carrier, address and authenticated subject of this session (admin views). */
  get peer(): SessionPeer {
    return {
      transport: this.#transport.kind,
      remote: this.#transport.remote,
      subject: this.#access?.principal?.subject,
    };
  }

  /** Whether the session ended (closed by either side). */
  get ended(): boolean {
    return this.#ended;
  }

  /** Subscriptions this session holds. */
  get subscriptionCount(): number {
    return this.#frames.subscriptionCount;
  }

  /** Whether every queue and the transport buffer are empty. */
  get idle(): boolean {
    if (this.#outbox.pending || this.#ingress.backlogged) return false;
    if (this.#frames.deliveriesWaiting) return false;
    return this.#transport.bufferedAmount() === 0;
  }

  /** TransportSession: handles one received transport message. */
  receive(data: Uint8Array | string): void | Promise<void> {
    return this.#ingress.receive(data);
  }

  /** SubscriptionOwner: a subscription has deliveries or a drop notice waiting. */
  wake(sub: Subscription): void {
    this.#outbox.wake(sub);
  }

  /** SubscriptionOwner: a `disconnect` subscription overflowed; close the connection. */
  overflowed(sub: Subscription): void {
    if (this.#ended) return;
    this.#ctx.metrics.disconnects.labels(sub.spec.realityId, "slow_consumer").inc();
    this.#ctx.metrics.errors.labels(this.#transport.kind, "SLOW_CONSUMER").inc();
    this.#outbox.sendLast({
      error: {
        code: errorCodeValue("SLOW_CONSUMER"),
        message: `subscription ${sub.spec.id} overflowed its queue; disconnecting`,
        subscriptionId: sub.spec.id,
      },
    });
    this.#transport.close(1008, "slow consumer");
    this.closed();
  }

  /** Resumes writing when the transport buffer fell under the high-water mark. */
  resumeIfDrained(): boolean {
    return this.#outbox.resumeIfDrained();
  }

  /** Stops accepting publishes; queued deliveries still go out. */
  startDrain(): void {
    this.#frames.startDrain();
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
    clearTimeout(this.#helloTimer);
    this.#outbox.close();
    this.#frames.close();
    this.#access?.close();
    this.#ctx.metrics.connections.labels(this.#transport.kind).dec();
    this.#ctx.onEnd(this);
  }
}
