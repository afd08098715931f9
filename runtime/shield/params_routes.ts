/**
 * `GET /v1/realities/{reality}/params`: a reality's control parameters (set by
 * `sys.control.set`) with their version. Authorized as a read of the reality (the
 * realities guard of `http.ts` runs first when auth is on).
 * @module
 */
import { Hono } from "hono";
import { BusError, realityError } from "../protocol/mod.ts";
import type { ControlParams, Spine } from "../spine/mod.ts";

/**
 * The route, mounted at the root of the node's app. An unknown reality is a 404 with
 * `{"error":{"code":"NOT_FOUND",…}}`, as on the other reality routes.
 *
 * @example
 * ```ts ignore
 * app.route("/", paramsRoutes(spine, control));
 * // GET /v1/realities/lab/params -> {"reality":"lab","version":2,"params":{"k_c":0.7},"updated_at":"…"}
 * ```
 */
export function paramsRoutes(spine: Spine, control: ControlParams): Hono {
  const app = new Hono();
  app.get("/v1/realities/:reality/params", (c) => {
    const reality = c.req.param("reality");
    const problem = realityError(reality);
    if (problem) throw new BusError("INVALID_ARGUMENT", problem);
    const set = control.current(reality);
    if (set.version === 0 && !spine.hasReality(reality)) {
      throw new BusError("NOT_FOUND", `no reality ${reality}`);
    }
    return c.json({
      reality,
      version: set.version,
      params: set.params,
      updated_at: set.version === 0 ? null : new Date(set.updatedMs).toISOString(),
    });
  });
  return app;
}
