/**
 * Authorization of the realities API (`/v1/realities...`, served by the store): changing
 * a reality (create, replace, delete, retention) is governance and needs `admin`; reading
 * one needs the reality in the caller's grants, and reading history needs subscribe
 * permission for the pattern read. Creates and deletes are audited.
 * @module
 */
import type { MiddlewareHandler } from "hono";
import { BusError } from "../../protocol/mod.ts";
import type { NodeAccess } from "./node_access.ts";
import type { SessionAccess } from "./session_access.ts";

// Routes of the publish path under /v1/realities/:reality/ that the Shield itself guards.
const PUBLISH_PATH = new Set(["topics", "request", "subscribe"]);

/**
 * Middleware for `/v1/realities` and `/v1/realities/*`; `accessOf` returns the caller's
 * access (set by the authentication middleware that runs first).
 */
export function realityGuard(
  node: NodeAccess,
  accessOf: (req: Request) => SessionAccess | undefined,
): MiddlewareHandler {
  // Hono may match both registrations for one request: guard it once.
  const seen = new WeakSet<Request>();
  return async (c, next) => {
    if (seen.has(c.req.raw)) return await next();
    seen.add(c.req.raw);
    const path = new URL(c.req.url).pathname.split("/").filter(Boolean); // v1, realities, ...
    const reality = path[2] ? decodeURIComponent(path[2]) : undefined;
    const tail = path[3];
    if (tail !== undefined && PUBLISH_PATH.has(tail)) return await next();
    const access = accessOf(c.req.raw);
    const principal = access?.principal;
    const method = c.req.method;
    const write = method !== "GET" && method !== "HEAD";
    if (!principal) {
      throw node.refused(new BusError("UNAUTHORIZED", "authentication required"), "http");
    }
    const admin = principal.roles.includes("admin");
    if (write && !admin) {
      throw node.refused(
        new BusError("FORBIDDEN", "changing realities needs the admin role"),
        "http",
      );
    }
    if (reality !== undefined && !admin) {
      if (tail === "history") {
        const pattern = new URL(c.req.url).searchParams.get("pattern") || ">";
        const grant = access!.admitRead(reality, pattern);
        if (grant.filterDeliveries) {
          throw node.refused(
            new BusError(
              "FORBIDDEN",
              `"${pattern}" overlaps a denied topic; read a narrower pattern`,
            ),
            "http",
          );
        }
      } else {
        access!.admitRead(reality, ">", false);
      }
    }
    await next();
    if (!write || c.res.status >= 300) return;
    const name = reality ?? "";
    const where = access?.remote ? { remote: access.remote } : {};
    if (method === "POST" && reality === undefined) {
      const created = await c.res.clone().json().catch(() => ({})) as { name?: string };
      node.audit("reality.create", principal.subject, { reality: created.name ?? "", ...where });
    } else if (method === "DELETE") {
      node.audit("reality.delete", principal.subject, { reality: name, ...where });
    } else {
      const action = c.res.status === 201 ? "reality.create" : "reality.update";
      node.audit(action, principal.subject, { reality: name, part: tail ?? "config", ...where });
    }
  };
}
