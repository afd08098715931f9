/**
 * The HTTP API of operators, as a Hono sub-app the node mounts at its root (in the style of
 * `/v1/policies`):
 *
 * - `PUT /v1/operators/{name}`: `multipart/form-data` with a `component` part (the Wasm) and
 *   a `manifest` part (JSON), or `application/json` `{"builtin": "<name>", ...manifest}` for
 *   a shipped operator (404 for an unknown one); 201 when created, 200 when replaced.
 * - `GET /v1/operators`, `GET /v1/operators/{name}`: status, digest, counters, latencies.
 * - `DELETE /v1/operators/{name}`; `POST /v1/operators/{name}/stop`, `.../resume`.
 * - `GET /v1/operators/{name}/state` (a JSON snapshot), `PUT` the same to restore it.
 *
 * Errors are 4xx with `{"error":{"code":"…","message":"…"}}`.
 * @module
 */
import { Hono } from "hono";
import type { Context } from "hono";
import { bodyLimit } from "hono/body-limit";
import { BusError, type ErrorCodeName, httpStatusOf } from "../runtime/protocol/mod.ts";
import type { OperatorHost } from "./host.ts";

/** Options of {@linkcode operatorRoutes}. */
export interface OperatorRoutesOptions {
  /**
   * Authorizes a request and names who makes it, for the audit log (default: everyone, as
   * `anonymous`). Throw a `BusError` (`UNAUTHORIZED`/`FORBIDDEN`) to refuse.
   */
  actor?: (c: Context) => string | Promise<string>;
  /**
   * Largest accepted request body, in bytes.
   * @default 8388608
   */
  maxUploadBytes?: number;
}

async function jsonBody(c: Context, what: string): Promise<unknown> {
  try {
    return JSON.parse(await c.req.text());
  } catch {
    throw new BusError("INVALID_ARGUMENT", `${what}: not valid JSON`);
  }
}

/** Builds the operator routes over `host`. */
export function operatorRoutes(host: OperatorHost, options: OperatorRoutesOptions = {}): Hono {
  const app = new Hono();
  const actorOf = options.actor ?? (() => "anonymous");
  const maxSize = options.maxUploadBytes ?? 8 << 20;
  const fail = (c: Context, code: ErrorCodeName, message: string) =>
    c.json({ error: { code, message } }, httpStatusOf(code));
  const guarded = async (c: Context, run: (actor: string) => Promise<Response>) => {
    try {
      return await run(await actorOf(c));
    } catch (e) {
      if (e instanceof BusError) return fail(c, e.code, e.message);
      throw e;
    }
  };

  app.put(
    "/v1/operators/:name",
    bodyLimit({
      maxSize,
      onError: (c) => fail(c, "FRAME_TOO_LARGE", `body exceeds the limit of ${maxSize} bytes`),
    }),
    (c) =>
      guarded(c, async (actor) => {
        const type = c.req.header("content-type") ?? "";
        if (type.startsWith("application/json")) {
          const name = c.req.param("name");
          const created = await host.putBuiltin(name, await jsonBody(c, "manifest"), actor);
          return c.json(host.status(name), created ? 201 : 200);
        }
        if (!type.startsWith("multipart/form-data")) {
          throw new BusError(
            "INVALID_ARGUMENT",
            "send multipart/form-data with a component part and a manifest part",
          );
        }
        const form = await c.req.formData();
        const component = form.get("component");
        const manifest = form.get("manifest");
        if (!(component instanceof File)) {
          throw new BusError("INVALID_ARGUMENT", "the component part (a file) is missing");
        }
        if (manifest === null) {
          throw new BusError("INVALID_ARGUMENT", "the manifest part is missing");
        }
        const text = typeof manifest === "string" ? manifest : await manifest.text();
        let parsed: unknown;
        try {
          parsed = JSON.parse(text);
        } catch {
          throw new BusError("INVALID_ARGUMENT", "manifest: not valid JSON");
        }
        const name = c.req.param("name");
        const bytes = new Uint8Array(await component.arrayBuffer());
        const created = await host.put(name, bytes, parsed, actor);
        return c.json(host.status(name), created ? 201 : 200);
      }),
  );

  app.get("/v1/operators", (c) => guarded(c, () => Promise.resolve(c.json(host.list()))));

  app.get("/v1/operators/:name", (c) =>
    guarded(c, () => {
      const status = host.status(c.req.param("name"));
      if (!status) throw new BusError("NOT_FOUND", `no operator ${c.req.param("name")}`);
      return Promise.resolve(c.json(status));
    }));

  app.delete("/v1/operators/:name", (c) =>
    guarded(c, async (actor) => {
      const name = c.req.param("name");
      if (!await host.delete(name, actor)) throw new BusError("NOT_FOUND", `no operator ${name}`);
      return c.json({ deleted: name });
    }));

  app.post(
    "/v1/operators/:name/resume",
    (c) => guarded(c, async (actor) => c.json(await host.resume(c.req.param("name"), actor))),
  );

  app.post(
    "/v1/operators/:name/stop",
    (c) => guarded(c, async (actor) => c.json(await host.stop(c.req.param("name"), actor))),
  );

  app.get(
    "/v1/operators/:name/state",
    (c) => guarded(c, async () => c.json(await host.snapshotState(c.req.param("name")))),
  );

  app.put(
    "/v1/operators/:name/state",
    bodyLimit({
      maxSize,
      onError: (c) => fail(c, "FRAME_TOO_LARGE", `body exceeds the limit of ${maxSize} bytes`),
    }),
    (c) =>
      guarded(c, async (actor) => {
        const name = c.req.param("name");
        return c.json(await host.restoreState(name, await jsonBody(c, "state snapshot"), actor));
      }),
  );

  return app;
}
