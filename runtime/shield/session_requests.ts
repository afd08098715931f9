/**
 * Request/reply frames of a session: each waiting request holds an inbox until its
 * reply, its timeout or the session's close, bounded per connection.
 * @module
 */
import { BusError, type IRequest } from "../protocol/mod.ts";
import { requestReply } from "../spine/mod.ts";
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
        this.#ctx.outbox.send({ reply: { correlationId, pulse } });
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
