/**
 * Request/reply frames of a session: each waiting request holds an inbox until its
 * reply, its timeout or the session's close, bounded per connection.
 * @module
 */
import { BusError, type IRequest } from "../protocol/mod.ts";
import { checkLane, LANE_CRITICAL, requestReply, requestStream } from "../spine/mod.ts";
import { authorizeReply } from "./reply_guard.ts";
import type { FramesContext } from "./session_context.ts";

/** What request handling asks of its frame handler. */
export interface RequestHost {
  /** Who this connection's replies are checked against beside the connection itself. */
  replySubject(): string | undefined;
  /** A publish to a reality that does not exist yet creates it: only if the grants allow. */
  admitReality(realityId: string | null | undefined): void;
  /** The producer id pulses of this session carry. */
  producerId(): string;
}

/** The requests of one session waiting for their reply. */
export class SessionRequests {
  readonly #ctx: FramesContext;
  readonly #host: RequestHost;
  /** Requests waiting for their reply: each holds an inbox until it ends. */
  readonly #pending = new Set<AbortController>();

  /** Creates the request handling of a new session. */
  constructor(ctx: FramesContext, host: RequestHost) {
    this.#ctx = ctx;
    this.#host = host;
  }

  /** Requests waiting for their reply. */
  get pending(): number {
    return this.#pending.size;
  }

  /** Ends every pending request (the session ended). */
  close(): void {
    for (const pending of this.#pending) pending.abort(CONNECTION_CLOSED);
    this.#pending.clear();
  }

  request(r: IRequest): void {
    if (!r.pulse) throw new BusError("INVALID_ARGUMENT", "request carries no pulse");
    authorizeReply(
      this.#ctx.spine,
      { topic: r.pulse.topic },
      this.#ctx.session,
      this.#host.replySubject(),
    );
    this.#ctx.access?.admitPublish(
      r.pulse.realityId ?? "",
      r.pulse.topic ?? "",
      r.pulse.payload?.length ?? 0,
    );
    // A request names its lane like a publish (grant checked here; the Spine checks the value).
    if (r.pulse.lane) {
      checkLane(r.pulse.lane);
      if (r.pulse.lane === LANE_CRITICAL) this.#ctx.access?.admitLane("critical");
    }
    this.#host.admitReality(r.pulse.realityId);
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
    if (r.stream) return this.#stream(r, correlationId, timeout, pending);
    requestReply(
      this.#ctx.spine,
      r.pulse,
      this.#host.producerId(),
      timeout,
      pending.signal,
      r.anycast,
    ).then(
      (pulse) => {
        this.#pending.delete(pending);
        this.#ctx.metrics.requests.labels("ok").inc();
        this.#ctx.outbox.send({ reply: { correlationId, pulse, final: true } });
      },
      (err) => {
        this.#pending.delete(pending);
        if (err === CONNECTION_CLOSED) return;
        const code = err instanceof BusError ? err.code : "INTERNAL";
        this.#ctx.metrics.requests.labels(code.toLowerCase()).inc();
        this.#ctx.outbox.fail(err, correlationId);
      },
    );
  }

  /**
   * A streamed request: every reply goes out as it comes (`final` on the last); an error
   * (timeout between replies, a bound, a responder's typed error) ends it with an error
   * frame. It holds one pending slot, like a plain request, until it ends.
   */
  #stream(r: IRequest, correlationId: number, timeout: number, pending: AbortController): void {
    const options = this.#ctx.options;
    requestStream(this.#ctx.spine, r.pulse!, this.#host.producerId(), {
      timeoutMs: timeout,
      maxReplies: options.streamMaxReplies ?? 10_000,
      maxBytes: options.streamMaxBytes ?? 16 * 1024 * 1024,
      signal: pending.signal,
      onLimit: (which) => this.#ctx.metrics.limitHits.labels(which).inc(),
    }, (pulse, final) => this.#ctx.outbox.send({ reply: { correlationId, pulse, final } })).then(
      () => {
        this.#pending.delete(pending);
        this.#ctx.metrics.requests.labels("ok").inc();
      },
      (err) => {
        this.#pending.delete(pending);
        if (err === CONNECTION_CLOSED) return;
        const code = err instanceof BusError ? err.code : "INTERNAL";
        this.#ctx.metrics.requests.labels(code.toLowerCase()).inc();
        this.#ctx.outbox.fail(err, correlationId);
      },
    );
  }
}

/** Why pending requests end when their session closes (nobody is left to answer). */
const CONNECTION_CLOSED = new BusError("UNSPECIFIED", "the requester's connection closed");
