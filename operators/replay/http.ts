/**
 * The HTTP API of replay (docs/time.md, "Replay"), a Hono sub-app the node mounts at its
 * root:
 *
 * - `POST /v1/realities/{r}/verify[?full]`: replays r's inputs (from the nearest snapshot,
 *   or all of them with `full`) into a scratch reality and answers
 *   `{"ok", "inputs", "outputs", "digest", "replay_digest", "first_difference"}`.
 * - `POST /v1/realities/{r}/fork` `{"name", "at", "until", "params"}`: 202 with the fork's
 *   status; the replay runs on.
 * - `GET /v1/realities/{name}/fork`: `{"state", "processed", "total", "origin"}`; with
 *   `Accept: text/event-stream`, a stream of `progress` events ending with the final one.
 * - `DELETE /v1/realities/{name}/fork`: cancels a running fork (its reality stays, marked).
 * - `GET /v1/realities/{a}/diff/{b}`: where two related realities' output logs diverge.
 *
 * Errors are 4xx with `{"error":{"code":"…","message":"…"}}`.
 * @module
 */
import { Hono } from "hono";
import type { Context } from "hono";
import { BusError, httpStatusOf } from "../../runtime/protocol/mod.ts";
import { MAX_PARAMS_BYTES, parseForkRequest } from "./fork_request.ts";
import type { ForkStatus } from "./forks.ts";
import type { Replays } from "./service.ts";

/** Options of {@linkcode replayRoutes}. */
export interface ReplayRoutesOptions {
  /** Authorizes a request (throw a `BusError` to refuse); default: everyone. */
  actor?: (c: Context) => string | Promise<string>;
}

const encoder = new TextEncoder();

/** A fork's progress as server-sent events: one now, one per page, the last when it ends. */
function progressStream(
  first: ForkStatus,
  listen: (l: (s: ForkStatus) => void) => () => void,
): Response {
  let stop = () => {};
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      const send = (s: ForkStatus) => {
        try {
          controller.enqueue(encoder.encode(`event: progress\ndata: ${JSON.stringify(s)}\n\n`));
          if (s.state !== "running") {
            stop();
            controller.close();
          }
        } catch { /* the reader left */ }
      };
      if (first.state === "running") stop = listen(send);
      send(first);
    },
    cancel() {
      stop();
    },
  });
  return new Response(body, {
    headers: { "content-type": "text/event-stream", "cache-control": "no-store" },
  });
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
    (c) =>
      guarded(
        c,
        async () =>
          c.json(await replays.verify(c.req.param("reality"), c.req.query("full") !== undefined)),
      ),
  );

  app.post("/v1/realities/:reality/fork", (c) =>
    guarded(c, async () => {
      const length = Number(c.req.header("content-length") ?? 0);
      if (length > MAX_PARAMS_BYTES + 4096) {
        throw new BusError("INVALID_ARGUMENT", `the body is over ${MAX_PARAMS_BYTES + 4096} bytes`);
      }
      const text = await c.req.text();
      if (text.length > MAX_PARAMS_BYTES + 4096) {
        throw new BusError("INVALID_ARGUMENT", `the body is over ${MAX_PARAMS_BYTES + 4096} bytes`);
      }
      return c.json(replays.fork(c.req.param("reality"), parseForkRequest(text)), 202);
    }));

  app.get("/v1/realities/:name/fork", (c) =>
    guarded(c, () => {
      const record = replays.forkStatus(c.req.param("name"));
      if ((c.req.header("accept") ?? "").includes("text/event-stream")) {
        return Promise.resolve(progressStream(record.status(), (l) => record.listen(l)));
      }
      return Promise.resolve(c.json(record.status()));
    }));

  app.delete(
    "/v1/realities/:name/fork",
    (c) => guarded(c, async () => c.json(await replays.cancel(c.req.param("name")))),
  );

  app.get(
    "/v1/realities/:a/diff/:b",
    (c) => guarded(c, async () => c.json(await replays.diff(c.req.param("a"), c.req.param("b")))),
  );
  return app;
}
