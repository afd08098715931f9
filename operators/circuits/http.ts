/**
 * The HTTP API of circuits, a Hono sub-app the node mounts at its root:
 *
 * - `PUT /v1/realities/{r}/circuits/{name}`: JSON `{"stages": [...]}`; 201 created, 200
 *   replaced; 4xx `{"error":{"code","message"}}` (an incompatible hop adds `hop`,
 *   `property` and `reason` to `error`), nothing installed.
 * - `GET /v1/realities/{r}/circuits`, `GET .../circuits/{name}`: stages, per hop pulses,
 *   violations and latency percentiles, the slowest stage.
 * - `DELETE .../circuits/{name}`: removes it and the operators it installed.
 * @module
 */
import { Hono } from "hono";
import type { Context } from "hono";
import { bodyLimit } from "hono/body-limit";
import { BusError, type ErrorCodeName, httpStatusOf } from "../../runtime/protocol/mod.ts";
import { type CircuitHost, HopError } from "./host.ts";

/** Options of {@linkcode circuitRoutes}. */
export interface CircuitRoutesOptions {
  /**
   * Authorizes a request and names who makes it, for the audit log (default: everyone, as
   * `anonymous`). Throw a `BusError` (`UNAUTHORIZED`/`FORBIDDEN`) to refuse.
   */
  actor?: (c: Context) => string | Promise<string>;
  /**
   * Largest accepted definition, in bytes (a harmonics program in text is the big part).
   * @default 1048576
   */
  maxBodyBytes?: number;
}

/**
 * Builds the circuit routes over `host`.
 *
 * @example
 * ```ts ignore
 * app.route("/", circuitRoutes(circuits, { actor }));
 * ```
 */
export function circuitRoutes(host: CircuitHost, options: CircuitRoutesOptions = {}): Hono {
  const app = new Hono();
  const actorOf = options.actor ?? (() => "anonymous");
  const maxSize = options.maxBodyBytes ?? 1 << 20;
  const fail = (c: Context, code: ErrorCodeName, message: string, extra = {}) =>
    c.json({ error: { code, message, ...extra } }, httpStatusOf(code));
  const guarded = async (c: Context, run: (actor: string) => Promise<Response>) => {
    try {
      return await run(await actorOf(c));
    } catch (e) {
      if (e instanceof HopError) {
        return fail(c, e.code, e.message, { hop: e.hop, property: e.property, reason: e.reason });
      }
      if (e instanceof BusError) return fail(c, e.code, e.message);
      throw e;
    }
  };
  const base = "/v1/realities/:reality/circuits";

  app.put(
    `${base}/:name`,
    bodyLimit({
      maxSize,
      onError: (c) => fail(c, "FRAME_TOO_LARGE", `body exceeds the limit of ${maxSize} bytes`),
    }),
    (c) =>
      guarded(c, async (actor) => {
        const { reality, name } = c.req.param();
        let body: unknown;
        try {
          body = JSON.parse(await c.req.text());
        } catch {
          throw new BusError("INVALID_ARGUMENT", "circuit: not valid JSON");
        }
        const created = await host.put(reality, name, body, actor);
        return c.json(host.status(reality, name), created ? 201 : 200);
      }),
  );

  app.get(
    base,
    (c) => guarded(c, () => Promise.resolve(c.json(host.list(c.req.param("reality"))))),
  );

  app.get(`${base}/:name`, (c) =>
    guarded(c, () => {
      const { reality, name } = c.req.param();
      const status = host.status(reality, name);
      if (!status) throw new BusError("NOT_FOUND", `no circuit ${name} in reality ${reality}`);
      return Promise.resolve(c.json(status));
    }));

  app.delete(`${base}/:name`, (c) =>
    guarded(c, async (actor) => {
      const { reality, name } = c.req.param();
      if (!await host.delete(reality, name, actor)) {
        throw new BusError("NOT_FOUND", `no circuit ${name} in reality ${reality}`);
      }
      return c.json({ deleted: name });
    }));

  return app;
}
