/**
 * The realities HTTP API: registry (create, list, get, replace, delete), retention rules
 * and history as NDJSON, served from any `DurableLog`. Mounted by the Shield under
 * `/v1/realities`; errors are `BusError`s, rendered by the Shield's error handler.
 * @module
 */
import { Hono } from "hono";
import { BusError, duplicateKey } from "../protocol/mod.ts";
import type { DurableLog, HistoryQuery, StoredPulse } from "../spine/mod.ts";
import { storedPulseJson } from "./stored_json.ts";

const INTEGER = /^\d{1,16}$/;

function integerParam(url: URL, name: string): number | undefined {
  const raw = url.searchParams.get(name);
  if (raw === null || raw === "") return undefined;
  if (!INTEGER.test(raw) || !Number.isSafeInteger(Number(raw))) {
    throw new BusError("INVALID_ARGUMENT", `${name} must be a non-negative integer`);
  }
  return Number(raw);
}

/**
 * A parameter under its name, shared with the WebSocket frames (`from_sequence`), or
 * its older HTTP alias (`from_seq`); both given and different is refused.
 */
function aliasedParam(url: URL, name: string, alias: string): number | undefined {
  const value = integerParam(url, name);
  const old = integerParam(url, alias);
  if (value !== undefined && old !== undefined && value !== old) {
    throw new BusError("INVALID_ARGUMENT", `${name} and its alias ${alias} disagree`);
  }
  return value ?? old;
}

/**
 * Parses the history query string of `GET /v1/realities/{reality}/history`: the names of
 * `history_get` (`from_sequence`, `to_sequence`, `from_time_ms`, `to_time_ms`, `limit`),
 * the older `from_seq`, `to_seq`, `from_time`, `to_time` kept as aliases.
 */
export function historyQueryFromUrl(reality: string, url: URL): HistoryQuery {
  return {
    reality,
    pattern: url.searchParams.get("pattern") || undefined,
    fromSeq: aliasedParam(url, "from_sequence", "from_seq"),
    toSeq: aliasedParam(url, "to_sequence", "to_seq"),
    fromTimeMs: aliasedParam(url, "from_time_ms", "from_time"),
    toTimeMs: aliasedParam(url, "to_time_ms", "to_time"),
    limit: integerParam(url, "limit"),
  };
}

async function jsonBody(req: Request): Promise<Record<string, unknown>> {
  let text = "";
  let body: unknown;
  try {
    text = await req.text();
    body = JSON.parse(text);
    if (body === null || typeof body !== "object" || Array.isArray(body)) throw new Error();
  } catch {
    throw new BusError("INVALID_ARGUMENT", "the body must be a JSON object");
  }
  // A repeated key means different things to different readers (the last copy here).
  const duplicate = duplicateKey(text);
  if (duplicate) throw new BusError("INVALID_ARGUMENT", `${duplicate}: duplicate key in the body`);
  return body as Record<string, unknown>;
}

function found<T>(value: T | undefined, reality: string): T {
  if (value === undefined) throw new BusError("NOT_FOUND", `no reality ${reality}`);
  return value;
}

/**
 * Streams a history query as NDJSON, one pulse per line in the canonical JSON mapping.
 * The first page is read before the response starts, so a failure there (a corrupt chunk)
 * is an HTTP error; one met later ends the stream with a last line
 * `{"error":{"code":...,"message":...}}` instead of a silently cut stream.
 */
export async function historyNdjson(
  store: DurableLog,
  query: HistoryQuery,
): Promise<ReadableStream<Uint8Array>> {
  const encoder = new TextEncoder();
  const pages = store.history(query);
  let first: IteratorResult<StoredPulse[]> | undefined = await pages.next();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      let next: IteratorResult<StoredPulse[]>;
      try {
        next = first ?? await pages.next();
      } catch (err) {
        const e = err instanceof BusError ? err : new BusError("INTERNAL", String(err));
        const line = JSON.stringify({ error: { code: e.code, message: e.message } });
        controller.enqueue(encoder.encode(line + "\n"));
        controller.close();
        return;
      }
      first = undefined;
      if (next.done) {
        controller.close();
        return;
      }
      let text = "";
      for (const p of next.value) {
        text += JSON.stringify(storedPulseJson(p.bytes)) + "\n";
      }
      controller.enqueue(encoder.encode(text));
    },
    async cancel() {
      await pages.return(undefined);
    },
  });
}

/** The routes, relative to `/v1/realities`. */
export function realityRoutes(store: DurableLog): Hono {
  const app = new Hono();

  app.get("/", (c) => c.json({ realities: store.listRealities() }));

  app.post("/", async (c) => {
    const body = await jsonBody(c.req.raw);
    if (typeof body.name !== "string") {
      throw new BusError("INVALID_ARGUMENT", "name must be a string");
    }
    const { name, ...config } = body;
    return c.json(store.createReality(name, config), 201);
  });

  app.get("/:reality", (c) => {
    const reality = c.req.param("reality");
    return c.json(found(store.getReality(reality), reality));
  });

  // Creates or replaces the configuration.
  app.put("/:reality", async (c) => {
    const reality = c.req.param("reality");
    const config = await jsonBody(c.req.raw);
    if (store.getReality(reality) === undefined) {
      return c.json(store.createReality(reality, config), 201);
    }
    return c.json(store.updateReality(reality, config));
  });

  app.delete("/:reality", (c) => {
    const reality = c.req.param("reality");
    found(store.deleteReality(reality) ? true : undefined, reality);
    return c.body(null, 204);
  });

  app.get("/:reality/retention", (c) => {
    const reality = c.req.param("reality");
    return c.json({ retention: found(store.getReality(reality), reality).config.retention });
  });

  app.put("/:reality/retention", async (c) => {
    const reality = c.req.param("reality");
    const body = await jsonBody(c.req.raw);
    const current = found(store.getReality(reality), reality).config;
    const info = store.updateReality(reality, { ...current, retention: body.retention });
    return c.json({ retention: info.config.retention });
  });

  app.get("/:reality/history", async (c) => {
    const reality = c.req.param("reality");
    found(store.getReality(reality), reality);
    const query = historyQueryFromUrl(reality, new URL(c.req.url));
    // Validate bounds and pattern before the 200 goes out.
    store.readEncoded({ ...query, limit: 0 });
    return new Response(await historyNdjson(store, query), {
      headers: { "content-type": "application/x-ndjson" },
    });
  });

  return app;
}
