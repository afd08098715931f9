/**
 * The HTTP API of replay (docs/time.md, "Replay"), a Hono sub-app the node mounts at its
 * root:
 *
 * - `POST /v1/realities/{r}/verify`: replays r's inputs into a scratch reality and answers
 *   `{"ok", "inputs", "outputs", "digest", "replay_digest", "first_difference"}`.
 *
 * Errors are 4xx with `{"error":{"code":"…","message":"…"}}`.
 * @module
 */
import { Hono } from "hono";
import type { Context } from "hono";
import { BusError, httpStatusOf } from "../../runtime/protocol/mod.ts";
import type { Replays } from "./service.ts";

/** Options of {@linkcode replayRoutes}. */
export interface ReplayRoutesOptions {
  /** Authorizes a request (throw a `BusError` to refuse); default: everyone. */
  actor?: (c: Context) => string | Promise<string>;
}

/** Builds the replay routes over `replays`. */
export function replayRoutes(replays: Replays, options: ReplayRoutesOptions = {}): Hono {
  const app = new Hono();
  const actorOf = options.actor ?? (() => "anonymous");
  const guarded = async (c: Context, run: () => Promise<Response>) => {
    try {
      await actorOf(c);
      return await run();
    } catch (e) {
      if (e instanceof BusError) {
        return c.json({ error: { code: e.code, message: e.message } }, httpStatusOf(e.code));
      }
      throw e;
    }
  };

  app.post(
    "/v1/realities/:reality/verify",
    (c) => guarded(c, async () => c.json(await replays.verify(c.req.param("reality")))),
  );
  return app;
}
