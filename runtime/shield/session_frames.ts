/**
 * What a session does with each frame a client sends: hello and authentication,
 * publish and its ack and ping here; subscribe (with replay), unsubscribe, credit and
 * history in session_subscriptions.ts; request/reply in session_requests.ts. Frames are carried out in arrival order, also when a publish waits
 * for an asynchronous policy. Answers go to the session's outbox.
 * @module
 */
import {
  AckMode,
  BusError,
  checkPulseBytes,
  decodePulse,
  type FrameReader,
  type IAnycastTarget,
  type IFrame,
  InvalidUtf8Error,
  type IPublish,
  type IPulse,
  PROTOCOL_VERSION,
  PulseReader,
  type WireAnycastTarget,
} from "../protocol/mod.ts";
import {
  checkLane,
  compileCard,
  type CompiledCard,
  hasEntries,
  LANE_CRITICAL,
  LANE_NAMES,
  mergeClocks,
  type StampedPulse,
  type Subscription,
} from "../spine/mod.ts";
import type { FrameJsonError } from "../protocol/mod.ts";
import type { PresenceIdentity } from "../spine/mod.ts";
import type { SessionAccess } from "./auth/mod.ts";
import type { DeliveryFilter, Outbox } from "./session_outbox.ts";
import { authorizeReply, replySubjectOf } from "./reply_guard.ts";
import type { FramesContext } from "./session_context.ts";
import { SessionRequests } from "./session_requests.ts";
import { SessionSubscriptions } from "./session_subscriptions.ts";

/** The frame handling of one session, with the subscriptions it holds. */
export class FrameHandler {
  readonly #ctx: FramesContext;
  readonly #outbox: Outbox;
  readonly #access: SessionAccess | undefined;
  #producerId: string;
  readonly #subscriptions: SessionSubscriptions;
  readonly #requests: SessionRequests;
  /** Reads received pulse bytes, remembering this publisher's repeated strings. */
  readonly #pulses = new PulseReader();
  #chain: Promise<void> | null = null;
  #draining = false;
  /** Releases this session's card from the agents directory (SAM handshake). */
  #releaseCard: (() => void) | undefined;
  /** The card text this session presented, if any. */
  #cardText: string | undefined;
  /** The lane of this connection's pulses that name none and match no rule (`Hello.lane`). */
  #lane = 0;
  /** Publishes held for the policies to decide together (see `flush`). */
  #aheadCount = 0;
  readonly #aheadCorrelation: number[] = [];
  readonly #aheadAck: number[] = [];
  readonly #aheadPulses: (IPulse | undefined)[] = [];
  readonly #aheadConsumed: (Record<string, number> | undefined)[] = [];
  readonly #aheadSources: (Uint8Array | undefined)[] = [];
  /** Presence: who this session is, and the last reality it was listed in (hot path). */
  #who: PresenceIdentity | undefined;
  #presentIn: string | undefined;

  /** Creates the handler of a new session. */
  constructor(ctx: FramesContext) {
    this.#ctx = ctx;
    this.#outbox = ctx.outbox;
    this.#access = ctx.access;
    this.#producerId = ctx.sessionId;
    this.#subscriptions = new SessionSubscriptions(ctx);
    this.#requests = new SessionRequests(ctx, {
      replySubject: () => this.#replySubject(),
      admitReality: (realityId) => this.#admitReality(realityId),
      producerId: () => this.#producerId,
    });
  }

  /** The lane this connection's hello named as its default (0: none). */
  get defaultLane(): number {
    return this.#lane;
  }

  /** Subscriptions held. */
  get subscriptionCount(): number {
    return this.#subscriptions.count;
  }

  /** Whether any subscription has deliveries waiting. */
  get deliveriesWaiting(): boolean {
    return this.#subscriptions.deliveriesWaiting;
  }

  /** Refuses publishes from now on (shutdown); everything else still works. */
  startDrain(): void {
    this.#draining = true;
  }

  /** The filter a subscription's deliveries pass, when its pattern overlaps a denied topic. */
  filterOf(sub: Subscription): DeliveryFilter | undefined {
    return this.#subscriptions.filterOf(sub);
  }

  /**
   * Reads received frames into this handler: publishes arrive with their pulse bytes,
   * which the node forwards to subscribers with its stamp appended instead of re-encoding.
   */
  readonly reader: FrameReader = {
    publish: (correlationId, ack, bytes, consumed, anycast) =>
      this.publishEncoded(correlationId, ack, bytes, consumed, anycast),
    frame: (frame, kind) => {
      this.flush();
      this.dispatch(frame, kind);
    },
    // A refused JSON frame names its correlation id when it could be read.
    error: (e) => {
      this.flush();
      this.#outbox.error(e.code, e.message, (e as FrameJsonError).correlationId ?? 0);
    },
  };

  /**
   * Carries out the publishes held for the policies to decide together (see
   * `publishEncoded`), in order. Ingress calls it when a received message (or a slice of
   * it) has been read, before the message's buffer is let go: the pulses view it.
   */
  flush(): void {
    const n = this.#aheadCount;
    if (n === 0) return;
    this.#aheadCount = 0;
    const pulses = this.#aheadPulses as IPulse[];
    const consumed = this.#aheadConsumed;
    const sources = this.#aheadSources as Uint8Array[];
    try {
      this.#ctx.spine.publishAhead(pulses, n, this.#producerId, () => {
        for (let i = 0; i < n; i++) {
          this.#publishNow(
            this.#aheadCorrelation[i],
            this.#aheadAck[i],
            pulses[i],
            consumed[i],
            sources[i],
          );
        }
      });
    } finally {
      for (let i = 0; i < n; i++) pulses[i] = consumed[i] = sources[i] = undefined!;
    }
  }

  /** A publish whose pulse arrived as protobuf bytes (and its anycast target, read by hand). */
  publishEncoded(
    correlationId: number,
    ack: number,
    bytes: Uint8Array,
    consumed?: Record<string, number>,
    wireAnycast?: WireAnycastTarget,
  ): void {
    // These bytes are what subscribers and the log get: strict parsers must read them too.
    const malformed = checkPulseBytes(bytes);
    if (malformed) return this.#outbox.fail(malformed, correlationId);
    let pulse = this.#pulses.read(bytes);
    if (pulse === undefined) {
      try {
        pulse = decodePulse(bytes);
      } catch (err) {
        const e = err instanceof InvalidUtf8Error
          ? new BusError("INVALID_UTF8", err.message)
          : new BusError("INVALID_FRAME", `publish carries an invalid pulse: ${err}`);
        return this.#outbox.fail(e, correlationId);
      }
    }
    // Behind a publish waiting for a policy (or after the end), or routed by meaning: the
    // general path, after the publishes held before it.
    if (this.#chain || this.#ctx.session.ended || wireAnycast) {
      this.flush();
      // The Spine reads the vector as any ArrayLike<number>: the Float32Array copied off the
      // wire goes as it is (protobufjs's type says number[]).
      const anycast = wireAnycast as unknown as IAnycastTarget | undefined;
      const publish = { correlationId, ack, pulse, consumed, anycast };
      return this.dispatch({ publish }, "publish", bytes);
    }
    // Policies that decide many pulses in one call get the message's publishes together:
    // they are held (in order) until the message or its slice is read, or as many are held
    // as the guard asks for (it keeps the work of one go short).
    const limit = this.#ctx.spine.aheadLimit;
    if (limit > 1) {
      const n = this.#aheadCount++;
      this.#aheadCorrelation[n] = correlationId;
      this.#aheadAck[n] = ack;
      this.#aheadPulses[n] = pulse;
      this.#aheadConsumed[n] = consumed;
      this.#aheadSources[n] = bytes;
      if (n + 1 >= limit) this.flush();
      return;
    }
    this.flush();
    this.#publishNow(correlationId, ack, pulse, consumed, bytes);
  }

  /**
   * Carries out a publish now, with no frame object and no promise unless a policy answers
   * asynchronously (`#dispatchNow` without the switch); behind such a publish, in order.
   */
  #publishNow(
    correlationId: number,
    ack: number,
    pulse: IPulse,
    consumed: Record<string, number> | undefined,
    bytes: Uint8Array,
  ): void {
    if (this.#chain || this.#ctx.session.ended) {
      return this.dispatch({ publish: { correlationId, ack, pulse, consumed } }, "publish", bytes);
    }
    let pending: Promise<void> | void;
    try {
      this.#access?.requireAdmitted();
      pending = this.#publish(correlationId, ack, pulse, consumed, undefined, bytes);
    } catch (err) {
      return this.#outbox.fail(err, correlationId);
    }
    if (pending) this.#follow(pending);
  }

  /** Carries out one frame, after any earlier frame still waiting for a policy. */
  dispatch(frame: IFrame, kind: string, source?: Uint8Array): void {
    if (this.#chain) {
      // An earlier publish still awaits an asynchronous policy: keep arrival order.
      return this.#follow(this.#chain.then(() => this.#dispatchNow(frame, kind, source)));
    }
    const pending = this.#dispatchNow(frame, kind, source);
    if (pending) this.#follow(pending);
  }

  /** Makes later frames wait for `link` (a frame still in progress). */
  #follow(link: Promise<void>): void {
    const tail: Promise<void> = link.then(() => {
      if (this.#chain === tail) this.#chain = null;
    });
    this.#chain = tail;
  }

  /** Requests waiting for their reply. */
  get pendingRequests(): number {
    return this.#requests.pending;
  }

  /** Releases every subscription, grant and pending request (the session ended). */
  close(): void {
    this.#ctx.spine.presence.leave(this.#ctx.sessionId);
    this.#releaseCard?.();
    this.#requests.close();
    this.#subscriptions.close();
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
        case "publish": {
          const p = frame.publish!;
          return this.#publish(
            p.correlationId ?? 0,
            p.ack ?? AckMode.NONE,
            p.pulse,
            p.consumed,
            p.anycast,
            source,
          );
        }
        case "subscribe": {
          // Listed once admitted: a refused subscription throws before.
          const done = this.#subscriptions.subscribe(frame.subscribe!);
          this.#present(frame.subscribe!.realityId);
          return done;
        }
        case "unsubscribe":
          return this.#subscriptions.unsubscribe(frame.unsubscribe!.subscriptionId ?? 0);
        case "credit":
          return this.#subscriptions.credit(
            frame.credit!.subscriptionId ?? 0,
            frame.credit!.count ?? 0,
          );
        case "request": {
          const done = this.#requests.request(frame.request!);
          this.#present(frame.request!.pulse?.realityId);
          return done;
        }
        case "historyGet":
          return this.#subscriptions.historyGet(frame.historyGet!);
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
    // An invalid card refuses the hello (INVALID_ARGUMENT naming what is wrong). Compiling
    // costs the event loop: a connection may not make the node compile card after card.
    if (hello.card && this.#cardText !== undefined && hello.card !== this.#cardText) {
      throw new BusError(
        "INVALID_ARGUMENT",
        "card: a session presents one card; reconnect to change it",
      );
    }
    const card = hello.card ? compileCard(hello.card) : undefined;
    const lane = hello.lane ?? 0;
    checkLane(lane);
    if (hello.card) this.#cardText = hello.card;
    if (hello.clientName) this.#producerId = hello.clientName;
    const access = this.#access;
    if (access && this.#ctx.authRequired) {
      // Token or DID: verified asynchronously; a DID without a signature gets a challenge.
      return access.hello(hello).then((challenge) => {
        if (challenge) return this.#outbox.send({ challenge });
        this.#producerId = access.producerId(this.#producerId);
        this.#setLane(lane);
        this.#presentCard(card);
        this.#joinPresence(card, hello.capabilities);
        this.#welcome();
      }).catch((err) => this.#outbox.fail(err, 0));
    }
    this.#setLane(lane);
    this.#presentCard(card);
    this.#joinPresence(card, hello.capabilities);
    this.#welcome();
  }

  /** Takes the hello's default lane; a critical default needs the grant (FORBIDDEN). */
  #setLane(lane: number): void {
    if (lane === LANE_CRITICAL) this.#access?.admitLane(LANE_NAMES[lane]);
    this.#lane = lane;
  }

  /** Presence from the hello on: in the card's realities (else `default`). */
  #joinPresence(card: CompiledCard | undefined, capabilities: string[] | null | undefined): void {
    this.#who = {
      name: this.#producerId,
      kind: card ? "agent" : "client",
      capabilities: card?.card.capabilities ?? capabilities ?? [],
    };
    for (const r of card?.card.realities ?? ["default"]) this.#present(r);
  }

  /** Listed in `realityId` (publish, subscribe, request there); one compare when unchanged. */
  #present(realityId: string | null | undefined): void {
    const reality = realityId || "default";
    if (reality === this.#presentIn || this.#ctx.session.ended) return;
    this.#who ??= { name: this.#producerId, kind: "client", capabilities: [] };
    this.#ctx.spine.presence.join(this.#ctx.sessionId, reality, this.#who);
    this.#presentIn = reality;
  }

  /** Lists the session under its producer id (a later hello replaces its card). */
  #presentCard(card: CompiledCard | undefined): void {
    this.#releaseCard?.();
    this.#releaseCard = undefined;
    const anycast = card?.card.anycast;
    this.#subscriptions.cardAnycast = anycast &&
      { vectors: anycast.vectors, minScore: anycast.min_score ?? 0 };
    if (!card) return;
    // A client is listed only in realities its grants let it use (FORBIDDEN otherwise).
    for (const r of card.card.realities ?? ["default"]) this.#access?.admitRead(r, ">", false);
    this.#releaseCard = this.#ctx.spine.agents.registerClient(this.#producerId, card);
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

  #publish(
    correlationId: number,
    ackMode: number,
    p: IPulse | null | undefined,
    consumed: Record<string, number> | null | undefined,
    anycast: IPublish["anycast"],
    source?: Uint8Array,
  ): Promise<void> | void {
    if (this.#draining) throw new BusError("SHUTTING_DOWN", "the node is shutting down");
    if (!p) throw new BusError("INVALID_ARGUMENT", "publish carries no pulse");
    // Vector clocks: what the producer consumed rides to the Spine on the pulse itself.
    if (consumed && hasEntries(consumed)) {
      p.vclock = p.vclock && hasEntries(p.vclock) ? mergeClocks(p.vclock, consumed) : consumed;
    }
    // An unacknowledged publish over its rate may be dropped quietly (false): refusals
    // of a flood are reported once a second, not once per pulse.
    const acked = ackMode !== AckMode.NONE;
    const size = p.payload?.length ?? 0;
    // Lanes: an explicit lane is checked (grant here, value in the Spine); none takes the
    // reality's rule, then this connection's default. Normal pulses pay two checks.
    if (p.lane) {
      if (p.lane === LANE_CRITICAL) this.#access?.admitLane("critical");
    } else if (this.#lane) {
      p.lane = this.#ctx.spine.laneRuleFor(p.realityId ?? "", p.topic ?? "") || this.#lane;
    }
    authorizeReply(this.#ctx.spine, p, this.#ctx.session, this.#replySubject());
    if (this.#access?.admitPublish(p.realityId ?? "", p.topic ?? "", size, acked) === false) return;
    this.#admitReality(p.realityId);
    const result = this.#ctx.spine.publish(p, this.#producerId, source, undefined, anycast, !acked);
    this.#present(p.realityId);
    // Unacknowledged: nothing to answer, no callback to allocate.
    if (!acked) {
      if (result instanceof Promise) {
        return result.then(
          () => {},
          (err) => this.#outbox.fail(err, correlationId),
        );
      }
      return;
    }
    if (result instanceof Promise) {
      return result.then(
        (stamped) => this.#acknowledge(correlationId, ackMode, stamped),
        (err) => this.#outbox.fail(err, correlationId),
      );
    }
    this.#acknowledge(correlationId, ackMode, result);
  }

  /** Who this connection's replies are checked against beside the connection itself. */
  #replySubject(): string | undefined {
    return replySubjectOf(this.#access?.principal, false);
  }

  #acknowledge(correlationId: number, mode: number, stamped: StampedPulse): void {
    if (mode === AckMode.NONE) return;
    // Read when sent: a cluster node learns the sequence when the stream stored the pulse.
    const ack = () => ({
      ack: {
        correlationId,
        id: stamped.pulse.id,
        sequence: stamped.pulse.sequence,
        realityId: stamped.pulse.realityId,
      },
    });
    // A pulse without its sequence yet (cluster) is acknowledged once stored, in any mode.
    if ((mode === AckMode.DURABLE || !stamped.pulse.sequence) && stamped.committed) {
      stamped.committed.then(
        () => {
          if (stamped.sampledAt) this.#ackTimed(stamped);
          this.#outbox.send(ack());
        },
        (err) => this.#outbox.fail(err, correlationId),
      );
      return;
    }
    if (stamped.sampledAt) this.#ackTimed(stamped);
    this.#outbox.send(ack());
  }

  #ackTimed(stamped: StampedPulse): void {
    this.#ctx.metrics.publishToAck.labels(stamped.pulse.realityId!)
      .observe((performance.now() - stamped.sampledAt) / 1000);
  }
}

/** The correlation id an error about `frame` carries. */
function correlationOf(frame: IFrame): number {
  return frame.publish?.correlationId ?? frame.request?.correlationId ??
    frame.subscribe?.correlationId ?? frame.historyGet?.correlationId ?? 0;
}
