/**
 * `GET` and `PUT /v1/realities/{reality}/lanes`: a reality's latency-lane rules, which give
 * pulses that name no lane a lane by topic pattern (first match wins). Writing them is
 * governance (the realities guard of `http.ts` asks for `admin` when auth is on); reading
 * them is a read of the reality. Rules live in memory with the reality: a restart clears
 * them (the node's config or an admin sets them again).
 * @module
 */
import { Hono } from "hono";
import { BusError, realityError } from "../protocol/mod.ts";
import { LaneRules, type Spine } from "../spine/mod.ts";

/**
 * The routes, mounted at the root of the node's app. A malformed body is a 400 with
 * `{"error":{"code":"INVALID_ARGUMENT",…}}` naming the first bad rule.
 *
 * @example
 * ```ts ignore
 * app.route("/", laneRoutes(spine));
 * // PUT /v1/realities/lab/lanes {"rules":[{"pattern":"alerts.>","lane":"critical"}]}
 * // GET /v1/realities/lab/lanes -> {"reality":"lab","rules":[{"pattern":"alerts.>","lane":"critical"}]}
 * ```
 */
export function laneRoutes(spine: Spine): Hono {
  const app = new Hono();
  const realityOf = (id: string) => {
    const problem = realityError(id);
    if (problem) throw new BusError("INVALID_ARGUMENT", problem);
    return id;
  };
  app.get("/v1/realities/:reality/lanes", (c) => {
    const reality = realityOf(c.req.param("reality"));
    if (!spine.hasReality(reality)) throw new BusError("NOT_FOUND", `no reality ${reality}`);
    const rules = spine.realities().find((r) => r.id === reality)?.laneRules?.rules ?? [];
    return c.json({ reality, rules });
  });
  app.put("/v1/realities/:reality/lanes", async (c) => {
    const reality = realityOf(c.req.param("reality"));
    const body = await c.req.json().catch(() => {
      throw new BusError("INVALID_ARGUMENT", 'the body must be JSON {"rules": [...]}');
    });
    const rules = LaneRules.parse(body);
    spine.reality(reality).laneRules = rules.rules.length > 0 ? rules : undefined;
    return c.json({ reality, rules: rules.rules });
  });
  return app;
}
