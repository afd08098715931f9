/**
 * `GET /v1/connections` (admin only when authentication is on): the node's client
 * connections and every live subscription with its queue depth and drops, which no other
 * endpoint gives per subscriber (`/metrics` sums them per reality). The dashboard's
 * connections view reads it; so can any operator with `curl`.
 *
 * Subscriptions are walked from the Spine and grouped by owner: a client session is one
 * connection; an SSE stream is its own row (`transport: "sse"`); what the node holds for
 * itself (operators, request inboxes) is `transport: "internal"`.
 *
 * Query: `limit` (1..10000, default 1000) caps the connections listed; `total` and
 * `truncated` say what was left out.
 * @module
 */
import { Hono } from "hono";
import { BusError } from "../protocol/mod.ts";
import type { Spine, Subscription, SubscriptionOwner } from "../spine/mod.ts";
import type { NodeAccess } from "./auth/mod.ts";
import type { Session } from "./session.ts";
import { SseSubscriber } from "./sse.ts";

/** Connections listed when the request names no `limit`. */
export const CONNECTIONS_DEFAULT_LIMIT = 1000;
/** The largest `limit` accepted. */
export const CONNECTIONS_MAX_LIMIT = 10_000;

/** One subscription as the view shows it. */
export interface SubscriptionView {
  /** The id its client chose. */
  readonly id: number;
  readonly reality: string;
  readonly pattern: string;
  /** Empty for none. */
  readonly queueGroup: string;
  readonly overflow: string;
  /** Deliveries waiting in its queue now. */
  readonly queued: number;
  /** Bytes waiting in its queue now. */
  readonly queuedBytes: number;
  /** The queue's bounds. */
  readonly maxMessages: number;
  readonly maxBytes: number;
  /** Deliveries dropped by its overflow policy over its life. */
  readonly dropped: number;
  /** Credits left for a flow-controlled subscription; null when unlimited. */
  readonly credits: number | null;
}

/** One connection (or SSE stream, or the node's own subscriptions). */
export interface ConnectionView {
  readonly id: string;
  /** `ws`, `mqtt`, `shm`, `sse` or `internal`. */
  readonly transport: string;
  /** The client's address, or empty. */
  readonly remote: string;
  /** The authenticated subject, when authentication is on. */
  readonly subject?: string;
  /** Epoch ms when it opened, when known. */
  readonly openedAtMs?: number;
  /** Deliveries waiting over all its subscriptions. */
  readonly queued: number;
  /** Drops over all its subscriptions. */
  readonly dropped: number;
  readonly subscriptions: readonly SubscriptionView[];
}

/** What the route reads from its node. */
export interface ConnectionsRouteOptions {
  /** Where the subscriptions live. */
  readonly spine: Spine;
  /** The node's open client sessions. */
  readonly sessions: () => Iterable<Session>;
  /** When present and required, the caller needs the admin role. */
  readonly access?: NodeAccess;
}

function subscriptionView(sub: Subscription): SubscriptionView {
  const { spec } = sub;
  return {
    id: spec.id,
    reality: spec.realityId,
    pattern: spec.pattern,
    queueGroup: spec.queueGroup,
    overflow: spec.overflow,
    queued: sub.queued,
    queuedBytes: sub.queuedBytes,
    maxMessages: spec.maxMessages,
    maxBytes: spec.maxBytes,
    dropped: sub.droppedTotal,
    credits: Number.isFinite(sub.credits) ? sub.credits : null,
  };
}

function parseLimit(raw: string | undefined): number {
  if (raw === undefined || raw === "") return CONNECTIONS_DEFAULT_LIMIT;
  const n = Number(raw);
  if (!/^\d{1,6}$/.test(raw) || n < 1 || n > CONNECTIONS_MAX_LIMIT) {
    throw new BusError(
      "INVALID_ARGUMENT",
      `limit must be an integer from 1 to ${CONNECTIONS_MAX_LIMIT}`,
    );
  }
  return n;
}

/** Builds the connections of the node, each with its subscriptions (sessions first). */
export function listConnections(
  spine: Spine,
  sessions: Iterable<Session>,
): ConnectionView[] {
  const byOwner = new Map<SubscriptionOwner, Subscription[]>();
  for (const reality of spine.realities()) {
    for (const sub of reality.subscriptions()) {
      if (sub.closed) continue;
      const list = byOwner.get(sub.owner);
      if (list) list.push(sub);
      else byOwner.set(sub.owner, [sub]);
    }
  }
  const out: ConnectionView[] = [];
  const row = (
    head: Omit<ConnectionView, "queued" | "dropped" | "subscriptions">,
    subs: readonly Subscription[],
  ): ConnectionView => {
    const views = subs.map(subscriptionView);
    return {
      ...head,
      queued: views.reduce((n, s) => n + s.queued, 0),
      dropped: views.reduce((n, s) => n + s.dropped, 0),
      subscriptions: views,
    };
  };
  for (const session of sessions) {
    if (session.ended) continue;
    const subs = byOwner.get(session) ?? [];
    byOwner.delete(session);
    out.push(row({ id: session.id, openedAtMs: session.openedAtMs, ...session.peer }, subs));
  }
  let sse = 0;
  const internal: Subscription[] = [];
  for (const [owner, subs] of byOwner) {
    if (owner instanceof SseSubscriber) {
      out.push(row({ id: `sse-${++sse}`, transport: "sse", remote: "" }, subs));
    } else internal.push(...subs);
  }
  if (internal.length > 0) {
    out.push(row({ id: "node", transport: "internal", remote: "" }, internal));
  }
  return out;
}

/** The route, mounted at the node's root. */
export function connectionsRoutes(opts: ConnectionsRouteOptions): Hono {
  const app = new Hono();
  app.get("/v1/connections", async (c) => {
    const access = opts.access;
    if (access?.required) {
      const client = (c.env as { remoteAddr?: Deno.NetAddr } | undefined)?.remoteAddr;
      await access.requireRole(
        c.req.header("authorization"),
        ["admin"],
        "reading connections",
        client,
      );
    }
    const limit = parseLimit(c.req.query("limit"));
    const all = listConnections(opts.spine, opts.sessions());
    return c.json({
      connections: all.slice(0, limit),
      total: all.length,
      truncated: all.length > limit,
    });
  });
  return app;
}
