/**
 * The HTTP API (Hono): publish, SSE subscribe, request/reply, health and metrics.
 *
 * The app expects the node's `Deno.serve` info as its env with `remoteAddr` already the
 * real client (behind TLS: the terminator's peer), as `hono/deno`'s `getConnInfo` reads it.
 * @module
 */
import { type Context, Hono, type MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { BusError, type IAnycastTarget, type IPulse, realityError } from "../protocol/mod.ts";
import { ERROR_HEADER, REPLY_HEADER, requestReply, type Spine } from "../spine/mod.ts";
import type { DurableLog } from "../spine/mod.ts";
import { causalHistoryRoutes } from "./causal_history_route.ts";
import { realityRoutes } from "./store_routes.ts";
import { laneRoutes } from "./lane_routes.ts";
import type { NodeMetrics } from "../telemetry/mod.ts";
import { type NodeAccess, RateLimitedError, realityGuard, type SessionAccess } from "./auth/mod.ts";
import { asBusError, errorResponse } from "./http_error.ts";
import type { SseMetrics } from "./sse.ts";
import { sseSubscribeHandler } from "./sse_route.ts";
import { originGuard, type OriginPolicy } from "./origin_guard.ts";
import { authorizeReply, replySubjectOf } from "./reply_guard.ts";
import { connectionsRoutes } from "./connections_route.ts";
import type { Session } from "./session.ts";
import { uiRoutes } from "./ui_route.ts";
import { streamRequest } from "./request_stream_route.ts";
import { A2A_DEFAULTS, type A2aOptions, A2aRoutes } from "./a2a/mod.ts";

/** What the HTTP API needs from its node: its parts and the few options it reads. */
export interface HttpApiOptions {
  /** Where publishes, requests and subscriptions go. */
  readonly spine: Spine;
  /** The durable log, serving `/v1/realities` (registry, retention, history). */
  readonly store?: DurableLog;
  /** Counts errors, requests and deliveries; rendered at `/metrics`. */
  readonly metrics:
    & Pick<NodeMetrics, "errors" | "requests" | "render" | "registry">
    & Partial<Pick<NodeMetrics, "limitHits" | "publishToAck">>
    & SseMetrics;
  /** The node's id, reported by `/healthz`. */
  readonly nodeId: string;
  /** When the node started (epoch ms), for `/healthz` uptime. */
  readonly startedAt: number;
  /** True once shutdown began: new connections are refused. */
  readonly draining: () => boolean;
  /**
   * A cluster node: whether it reaches its NATS cluster now (`/healthz` answers 503
   * `cluster_unavailable` while not, so a load balancer sends clients elsewhere).
   */
  readonly clusterAvailable?: () => boolean;
  /** Authentication, permissions and limits; absent: open. */
  readonly access?: NodeAccess;
  /** Largest accepted request body on every route (`--max-http-body-bytes`). */
  readonly maxHttpBodyBytes: number;
  /** Routes that take a body limit of their own instead (policy uploads). */
  readonly bodyLimits?: readonly BodyLimitRoute[];
  /** Request/reply timeout when the request names none (`--request-timeout-ms`). */
  readonly requestTimeoutMs: number;
  /**
   * Replies one streamed request may receive (`--stream-max-replies`).
   * @default {10000}
   */
  readonly streamMaxReplies?: number;
  /**
   * Payload bytes one streamed request may receive (`--stream-max-bytes`).
   * @default {16777216}
   */
  readonly streamMaxBytes?: number;
  /** Serve `/metrics` without a token even when auth is on (`--metrics-open`). */
  readonly metricsOpen: boolean;
  /**
   * Milliseconds between SSE keepalive comments (`--sse-keepalive-ms`).
   * @default {15000}
   */
  readonly sseKeepaliveMs?: number;
  /** Pages allowed to change state (`--cors-origin`); absent: any. */
  readonly origins?: OriginPolicy;
  /** The node's open client sessions, for `GET /v1/connections`; absent: no such route. */
  readonly sessions?: () => Iterable<Session>;
  /**
   * The built dashboard served at `/ui`.
   * @default {DEFAULT_UI_DIR} (`build/ui/` of the repository)
   */
  readonly uiDir?: URL;
  /**
   * Bounds of the A2A endpoint (`--a2a-max-tasks`, `--a2a-card-max-skills`).
   * @default {A2A_DEFAULTS}
   */
  readonly a2a?: A2aOptions & { readonly secure?: boolean };
}

/** A route with a body limit other than `maxHttpBodyBytes`. */
export interface BodyLimitRoute {
  /** The request method, e.g. `PUT`. */
  readonly method: string;
  /** Matches the request path. */
  readonly path: RegExp;
  /** Largest accepted body on the route. */
  readonly maxBytes: number;
}

/** Roles that may read `/metrics` when the node requires authentication. */
const METRICS_ROLES = ["admin", "operator"] as const;

/** The request's client, as the node passed it in the env (absent when embedded otherwise). */
function clientOf(c: Context): Deno.NetAddr | undefined {
  return (c.env as { remoteAddr?: Deno.NetAddr } | undefined)?.remoteAddr;
}

/** Builds the Hono app of a node. */
export function createHttpApp(ctx: HttpApiOptions): Hono {
  const app = new Hono();
  // The one error path: whatever a route throws is counted and rendered here, with the
  // status of the protocol's table.
  const fail = (err: unknown): Response => {
    const e = asBusError(err);
    ctx.metrics.errors.labels("http", e.code).inc();
    const res = errorResponse(e.code, e.message);
    if (e instanceof RateLimitedError) {
      res.headers.set("Retry-After", String(Math.max(1, Math.ceil(e.retryAfterMs / 1000))));
    }
    return res;
  };

  app.onError((err) => fail(err));
  // First of all: a foreign page's request changes nothing, whatever route it names.
  if (ctx.origins) app.use("*", originGuard(ctx.origins));
  app.notFound((c) =>
    errorResponse("NOT_FOUND", `no route for ${c.req.method} ${new URL(c.req.url).pathname}`)
  );

  // One body limit in front of every route (the routes mounted later included), before
  // authentication: a body over it is refused unread, with a 413 JSON error.
  const limitOf = (maxSize: number): MiddlewareHandler =>
    bodyLimit({
      maxSize,
      onError: () => {
        ctx.metrics.limitHits?.labels("max_http_body_bytes").inc();
        return fail(
          new BusError("FRAME_TOO_LARGE", `request body exceeds the limit of ${maxSize} bytes`),
        );
      },
    });
  const limit = limitOf(ctx.maxHttpBodyBytes);
  const routeLimits = (ctx.bodyLimits ?? []).map((r) => ({ ...r, check: limitOf(r.maxBytes) }));
  app.use("*", (c, next) => {
    const method = c.req.method;
    const path = c.req.path;
    const own = routeLimits.find((r) => r.method === method && r.path.test(path));
    return (own?.check ?? limit)(c, next);
  });

  // Every /v1 route needs a bearer token when the node requires authentication.
  const accessOf = new WeakMap<Request, SessionAccess>();
  const access = ctx.access;
  if (access) {
    // DID sign-in over HTTP: a challenge, then its signed answer for a short-lived token.
    app.post("/v1/auth/challenge", (c) => c.json(access.didChallenge()));
    app.post("/v1/auth/did", async (c) => {
      const body = await c.req.json().catch(() => {
        throw new BusError("INVALID_ARGUMENT", "the body must be JSON {did, nonce, signature}");
      });
      return c.json({ token: await access.didToken(body, clientOf(c)) }, 201);
    });
    app.use("/v1/*", async (c, next) => {
      if (c.req.path.startsWith("/v1/auth/")) return await next();
      accessOf.set(c.req.raw, await access.http(c.req.header("authorization"), clientOf(c)));
      await next();
    });
  }

  // The dashboard's static shell (no data, no token needed) and the admin view it reads.
  app.route("/", uiRoutes({ dir: ctx.uiDir }));
  if (ctx.sessions) {
    app.route("/", connectionsRoutes({ spine: ctx.spine, sessions: ctx.sessions, access }));
  }

  app.get("/healthz", (c) => {
    const status = ctx.draining()
      ? "draining"
      : ctx.clusterAvailable?.() === false
      ? "cluster_unavailable"
      : "ok";
    return c.json({
      status,
      nodeId: ctx.nodeId,
      uptimeMs: Date.now() - ctx.startedAt,
    }, status === "ok" ? 200 : 503);
  });

  // Metrics name realities, topics' traffic and refusals: with auth on, operators only,
  // unless --metrics-open leaves them to scrapers that cannot send a token.
  const metricsGuarded = Boolean(access?.required) && !ctx.metricsOpen;
  app.get("/metrics", async (c) => {
    if (metricsGuarded) {
      await access!.requireRole(
        c.req.header("authorization"),
        METRICS_ROLES,
        "reading /metrics",
        clientOf(c),
      );
    }
    c.header("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
    return c.body(await ctx.metrics.render());
  });

  // A2A: cards and JSON-RPC calls (authorized as publishes on agent.<id>.a2a), before the
  // realities guard, which asks writes for admin.
  const a2a = new A2aRoutes({
    ...(ctx.a2a ?? A2A_DEFAULTS),
    spine: ctx.spine,
    nodeId: ctx.nodeId,
    authRequired: Boolean(access?.required),
    accessOf: (req) => accessOf.get(req),
    requestTimeoutMs: ctx.requestTimeoutMs,
    limitHit: (limit) => ctx.metrics.limitHits?.labels(limit).inc(),
  });
  a2a.mountCalls(app);

  if (access) {
    // Realities API: governance needs admin, reads need the reality in the grants (audited).
    const guard = realityGuard(access, (req) => accessOf.get(req));
    app.use("/v1/realities", guard);
    app.use("/v1/realities/*", guard);
  }
  // SAM: the agents of a reality (operators, clients with a card); reads as other reality reads.
  app.get("/v1/realities/:reality/agents", (c) => {
    const reality = c.req.param("reality");
    const problem = realityError(reality);
    if (problem) throw new BusError("INVALID_ARGUMENT", problem);
    return c.json({ reality, agents: ctx.spine.agents.list(reality) });
  });
  app.route("/", laneRoutes(ctx.spine));
  a2a.mountReads(app);
  if (ctx.store) app.route("/v1/realities", realityRoutes(ctx.store));
  // Several realities' histories merged in causal order: each reality read as above.
  if (ctx.store) {
    const canRead = access
      ? (reality: string, pattern: string, req: Request) => {
        const session = accessOf.get(req);
        const principal = session?.principal;
        if (!principal) {
          throw access.refused(new BusError("UNAUTHORIZED", "authentication required"), "http");
        }
        if (principal.roles.includes("admin")) return;
        if (session!.admitRead(reality, pattern).filterDeliveries) {
          throw access.refused(
            new BusError("FORBIDDEN", `"${pattern}" overlaps a denied topic in ${reality}`),
            "http",
          );
        }
      }
      : undefined;
    app.route("/v1/history", causalHistoryRoutes(ctx.store, canRead));
  }

  const pulseFromRequest = async (
    req: Request,
    reality: string,
    topic: string,
  ): Promise<IPulse> => {
    const traceContext: Record<string, string> = {};
    const traceparent = req.headers.get("traceparent");
    if (traceparent) traceContext.traceparent = traceparent;
    const tracestate = req.headers.get("tracestate");
    if (tracestate) traceContext.tracestate = tracestate;
    // A responder answering over HTTP marks a non-final reply (or a typed error) with the
    // same pulse headers a WebSocket client sets (see `spine/reply_marks.ts`).
    const headers: Record<string, string> = {};
    for (const name of [REPLY_HEADER, ERROR_HEADER]) {
      const value = req.headers.get(`x-${name}`);
      if (value !== null) headers[name] = value;
    }
    return {
      realityId: reality,
      topic,
      headers,
      contentType: req.headers.get("content-type") ?? "application/octet-stream",
      payload: new Uint8Array(await req.arrayBuffer()),
      traceContext,
    };
  };
  // Semantic anycast over HTTP: `x-arqon-anycast: {"vector": [...], "k": 1}`.
  const anycastOf = (req: Request): IAnycastTarget | undefined => {
    const text = req.headers.get("x-arqon-anycast");
    if (text === null) return undefined;
    let v: { vector?: unknown; k?: unknown };
    try {
      v = JSON.parse(text);
    } catch {
      throw new BusError(
        "INVALID_ARGUMENT",
        'x-arqon-anycast must be JSON {"vector": [...], "k": n}',
      );
    }
    if (
      typeof v !== "object" || v === null || !Array.isArray(v.vector) ||
      !v.vector.every((x) => typeof x === "number") ||
      (v.k !== undefined && typeof v.k !== "number")
    ) {
      throw new BusError("INVALID_ARGUMENT", "x-arqon-anycast needs a numeric vector and k");
    }
    return { vector: v.vector as number[], k: (v.k as number | undefined) ?? 0 };
  };
  const producerOf = (req: Request) => {
    const named = req.headers.get("x-arqon-producer") || "http";
    return accessOf.get(req)?.producerId(named) ?? named;
  };
  const replySubject = (req: Request) => replySubjectOf(accessOf.get(req)?.principal, true);
  const admitPublish = (req: Request, pulse: IPulse) => {
    authorizeReply(ctx.spine, pulse, undefined, replySubject(req));
    const session = accessOf.get(req);
    session?.admitPublish(pulse.realityId ?? "", pulse.topic ?? "", pulse.payload?.length ?? 0);
    // A publish to a reality that does not exist yet creates it: only if the grants allow.
    const reality = pulse.realityId || "default";
    if (session && !ctx.spine.hasReality(reality)) session.admitNewReality(reality);
  };

  // Admins issue tokens from the node's key; each issue goes to the audit log.
  if (access) {
    app.post("/v1/tokens", async (c) => {
      const body = await c.req.json().catch(() => {
        throw new BusError("INVALID_ARGUMENT", "the body must be a JSON token request");
      });
      return c.json({ token: await access.issueToken(accessOf.get(c.req.raw)!, body) }, 201);
    });
    // Revocations: one token (jti) or a subject's tokens issued until now; on every node
    // of a cluster.
    app.post("/v1/tokens/revoke", async (c) => {
      const body = await c.req.json().catch(() => {
        throw new BusError("INVALID_ARGUMENT", "the body must be JSON {jti} or {subject}");
      });
      const r = await access.revoke(accessOf.get(c.req.raw)!, body);
      return c.json({
        revoked: r.tokenId !== undefined ? { jti: r.tokenId } : { subject: r.subject },
        until: new Date(r.untilMs).toISOString(),
      });
    });
  }

  app.post("/v1/realities/:reality/topics/:topic", async (c) => {
    if (ctx.draining()) throw new BusError("SHUTTING_DOWN", "the node is shutting down");
    const pulse = await pulseFromRequest(c.req.raw, c.req.param("reality"), c.req.param("topic"));
    admitPublish(c.req.raw, pulse);
    const stamped = await ctx.spine.publish(
      pulse,
      producerOf(c.req.raw),
      undefined,
      undefined,
      anycastOf(c.req.raw),
    );
    // A cluster node knows the sequence once the stream stored the pulse: wait for it.
    const wait = c.req.query("ack") === "durable" || !stamped.pulse.sequence;
    if (wait && stamped.committed) await stamped.committed;
    if (stamped.sampledAt) {
      ctx.metrics.publishToAck?.labels(stamped.pulse.realityId!)
        .observe((performance.now() - stamped.sampledAt) / 1000);
    }
    return c.json({ id: stamped.pulse.id, sequence: stamped.pulse.sequence });
  });

  app.post("/v1/realities/:reality/request/:topic", async (c) => {
    const pulse = await pulseFromRequest(c.req.raw, c.req.param("reality"), c.req.param("topic"));
    admitPublish(c.req.raw, pulse);
    const timeout = Number(c.req.query("timeout_ms") ?? ctx.requestTimeoutMs);
    if (!Number.isInteger(timeout) || timeout <= 0) {
      throw new BusError("INVALID_ARGUMENT", "timeout_ms must be a positive integer");
    }
    // `?stream=true`: every reply until the final one, as Server-Sent Events.
    const stream = c.req.query("stream");
    if (stream !== undefined && stream !== "false") {
      if (stream !== "true") throw new BusError("INVALID_ARGUMENT", "stream must be true or false");
      return streamRequest(
        c,
        {
          spine: ctx.spine,
          metrics: ctx.metrics,
          maxReplies: ctx.streamMaxReplies,
          maxBytes: ctx.streamMaxBytes,
        },
        pulse,
        producerOf(c.req.raw),
        timeout,
      );
    }
    try {
      // The request ends with its HTTP connection: a client gone frees the inbox at once.
      const reply = await requestReply(
        ctx.spine,
        pulse,
        producerOf(c.req.raw),
        timeout,
        c.req.raw.signal,
        anycastOf(c.req.raw),
      );
      ctx.metrics.requests.labels("ok").inc();
      return new Response(reply.payload as Uint8Array<ArrayBuffer>, {
        status: 200,
        headers: {
          "content-type": reply.contentType || "application/octet-stream",
          "x-arqon-id": reply.id ?? "",
          "x-arqon-sequence": String(reply.sequence ?? 0),
          "x-arqon-topic": reply.topic ?? "",
        },
      });
    } catch (err) {
      if (err instanceof BusError) ctx.metrics.requests.labels(err.code.toLowerCase()).inc();
      throw err;
    }
  });

  app.get(
    "/v1/realities/:reality/subscribe",
    sseSubscribeHandler({
      spine: ctx.spine,
      store: ctx.store,
      metrics: ctx.metrics,
      keepaliveMs: ctx.sseKeepaliveMs,
      sessionOf: (req) => accessOf.get(req),
      replySubject,
    }),
  );

  return app;
}
