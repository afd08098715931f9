/**
 * Which web pages may drive the node through their visitors' browsers. A browser sends
 * some cross-origin requests without asking first (a `text/plain` POST is a CORS "simple"
 * request) and lets any page open a WebSocket anywhere; the page cannot read the answers,
 * but the publish, the policy change or the session has happened. So a state-changing
 * request (POST, PUT, DELETE, PATCH) or a WebSocket upgrade whose `Origin` is neither the
 * node's own nor one `--cors-origin` names is refused with 403 `FORBIDDEN`.
 *
 * Requests without an `Origin` header are not from a page (curl, SDKs, servers) and pass.
 * Reads pass too: the browser withholds their answers from pages CORS does not allow.
 *
 * @example
 * ```ts
 * import { Hono } from "hono";
 * import { originGuard, originPolicy } from "./origin_guard.ts";
 *
 * const app = new Hono();
 * app.use("*", originGuard(originPolicy("https://app.example")));
 * ```
 * @module
 */
import type { MiddlewareHandler } from "hono";
import { cors } from "hono/cors";
import { errorResponse } from "./http_error.ts";

/** Methods that change state; a foreign page may not send them. */
const STATE_CHANGING = new Set(["POST", "PUT", "DELETE", "PATCH"]);

/** The origins allowed beside the node's own. */
export interface OriginPolicy {
  /** Origins `--cors-origin` names (exact `scheme://host[:port]`); `*` allows any. */
  readonly listed: readonly string[];
  /** Whether a request with this `Origin` (null: none) to this `Host` may change state. */
  allows(origin: string | null, host: string | null): boolean;
}

/**
 * The policy of a `--cors-origin` value: a comma-separated list of origins, `*` for any
 * (a public node meant for every page), empty for none but the node's own.
 */
export function originPolicy(corsOrigin: string): OriginPolicy {
  const listed = corsOrigin.split(",").map((s) => s.trim().replace(/\/+$/, "")).filter(Boolean);
  const any = listed.includes("*");
  const named = new Set(listed.map((o) => o.toLowerCase()));
  return {
    listed,
    allows(origin, host) {
      if (origin === null || any) return true;
      const o = origin.toLowerCase();
      if (named.has(o)) return true;
      // Same origin: a page served by the node itself (its dashboard). `null` (sandboxed
      // frames, file: pages) parses to no host and is refused.
      try {
        const url = new URL(o);
        return host !== null && url.host !== "" && url.host === host.toLowerCase();
      } catch {
        return false;
      }
    },
  };
}

/** The 403 answered to a refused origin. */
export function originRefusal(origin: string): Response {
  return errorResponse(
    "FORBIDDEN",
    `origin ${origin} is not allowed; the node accepts pages from its own origin and --cors-origin`,
    403,
  );
}

/**
 * Refuses an upgrade whose `Origin` the policy does not allow; undefined when it may
 * proceed.
 */
export function refuseUpgradeOrigin(
  policy: OriginPolicy | undefined,
  headers: Headers,
): Response | undefined {
  if (!policy) return undefined;
  const origin = headers.get("origin");
  return policy.allows(origin, headers.get("host")) ? undefined : originRefusal(origin!);
}

/**
 * Hono middleware: refuses state-changing requests from pages the policy does not allow,
 * and answers CORS (preflights, `Access-Control-Allow-Origin`) for the origins it names.
 */
export function originGuard(policy: OriginPolicy): MiddlewareHandler {
  const corsFor = policy.listed.length
    ? cors({
      origin: (origin) => (policy.allows(origin, null) ? origin : null),
      allowMethods: ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH"],
      allowHeaders: [
        "authorization",
        "content-type",
        "traceparent",
        "tracestate",
        "last-event-id",
        "x-arqon-producer",
      ],
      exposeHeaders: ["x-arqon-id", "x-arqon-sequence", "x-arqon-topic", "retry-after"],
      // Browsers cache a preflight's answer this long (capped by Chromium at 2 h).
      maxAge: 600,
    })
    : undefined;
  return async (c, next) => {
    const origin = c.req.header("origin") ?? null;
    if (STATE_CHANGING.has(c.req.method) && !policy.allows(origin, c.req.header("host") ?? null)) {
      return originRefusal(origin!);
    }
    if (corsFor && origin !== null) return await corsFor(c, next);
    await next();
  };
}
