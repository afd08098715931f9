/**
 * The HTTP API of CASIL and the audit log, as a Hono sub-app the node mounts at its root:
 *
 * - `PUT /v1/policies/{name}`: install or replace; body = component bytes
 *   (`application/wasm` or `application/octet-stream`, at most the upload limit) or empty with
 *   `?builtin=<name>`. Binding and config in the query: `reality` (repeatable; default `*`),
 *   `topic` (repeatable pattern; default `>`), `order` (integer; default 100), `config` (JSON
 *   object); `config` may instead come in the `Arqon-Policy-Config` header. 201 when created,
 *   200 when replaced.
 * - `PUT /v1/policies/{name}/binding`: JSON body `{"realities":[…],"topics":[…],"order":n}`.
 * - `GET /v1/policies`, `GET /v1/policies/{name}`, `DELETE /v1/policies/{name}`.
 * - `GET /v1/audit?from=<seq>&limit=<n>`, `GET /v1/audit/verify`.
 *
 * Errors are 4xx with `{"error":{"code":"…","message":"…"}}`.
 * @module
 */
import { Hono } from "hono";
import type { Context } from "hono";
import { bodyLimit } from "hono/body-limit";
import { httpStatusOf } from "../runtime/protocol/mod.ts";
import type { AuditEntry, AuditVerification } from "../runtime/telemetry/mod.ts";
import type { PolicyBinding } from "./bindings.ts";
import type { PolicyEngine } from "./engine.ts";
import { PolicyError, type PolicyErrorCode } from "./errors.ts";

/** Options of {@linkcode policyRoutes}. */
export interface PolicyRoutesOptions {
  /**
   * Authorizes a request and names who makes it, for the audit log (default: everyone, as
   * `anonymous`). Throw a {@linkcode PolicyError} (`UNAUTHORIZED`/`FORBIDDEN`) to refuse.
   */
  actor?: (c: Context) => string | Promise<string>;
  /** Component bytes of a built-in policy by name, for `?builtin=`. */
  builtin?: (name: string) => Promise<Uint8Array>;
  /** Called for every refused request, e.g. to count it. */
  onError?: (code: string) => void;
  /**
   * Where `GET /v1/audit` and `/v1/audit/verify` read instead of the node's own log: a
   * cluster node serves the cluster's one chain.
   */
  auditView?: AuditView;
}

/** A readable audit chain other than the node's local log (a cluster's). */
export interface AuditView {
  /** Entries from `from`, at most `limit`, and the chain's length. */
  list(from: number, limit: number): Promise<{ entries: AuditEntry[]; size: number }>;
  /** The chain's verification (at least `ok` and `entries`). */
  verify(): Promise<AuditVerification>;
}

const BUILTIN = /^[a-z0-9_]{1,64}$/;

/** Builds the policy and audit routes over `engine`. */
export function policyRoutes(engine: PolicyEngine, options: PolicyRoutesOptions = {}): Hono {
  const app = new Hono();
  const actorOf = options.actor ?? (() => "anonymous");
  const fail = (c: Context, code: PolicyErrorCode, message: string) => {
    options.onError?.(code);
    return c.json({ error: { code, message } }, httpStatusOf(code));
  };
  const handle = (c: Context, e: unknown) => {
    if (e instanceof PolicyError) return fail(c, e.code, e.message);
    throw e;
  };
  const actors = new WeakMap<Request, string>();
  const actor = (c: Context) => actors.get(c.req.raw) ?? "anonymous";
  for (const path of ["/v1/policies", "/v1/policies/*", "/v1/audit", "/v1/audit/*"]) {
    app.use(path, async (c, next) => {
      try {
        actors.set(c.req.raw, await actorOf(c));
      } catch (e) {
        return handle(c, e);
      }
      await next();
    });
  }

  app.put(
    "/v1/policies/:name",
    bodyLimit({
      maxSize: engine.maxUploadBytes,
      onError: (c) =>
        fail(
          c,
          "FRAME_TOO_LARGE",
          `component exceeds the upload limit of ${engine.maxUploadBytes} bytes`,
        ),
    }),
    async (c) => {
      const name = c.req.param("name");
      const q = c.req.queries();
      const binding: Partial<PolicyBinding> = {};
      if (q.reality) binding.realities = q.reality.flatMap((r) => r.split(","));
      if (q.topic) binding.topics = q.topic.flatMap((t) => t.split(","));
      if (q.order) {
        const order = Number(q.order[0]);
        if (!Number.isSafeInteger(order)) {
          return fail(c, "INVALID_ARGUMENT", "order must be an integer");
        }
        binding.order = order;
      }
      const config = q.config?.[0] ?? c.req.header("arqon-policy-config");
      let bytes = new Uint8Array(await c.req.arrayBuffer());
      const builtin = q.builtin?.[0];
      if (builtin !== undefined) {
        if (bytes.length > 0) {
          return fail(c, "INVALID_ARGUMENT", "give either a body or ?builtin=, not both");
        }
        if (!options.builtin || !BUILTIN.test(builtin)) {
          return fail(c, "NOT_FOUND", `no built-in policy named ${builtin}`);
        }
        try {
          bytes = new Uint8Array(await options.builtin(builtin));
        } catch {
          return fail(c, "NOT_FOUND", `no built-in policy named ${builtin}`);
        }
      }
      if (bytes.length === 0) {
        return fail(c, "INVALID_ARGUMENT", "the body must be a Wasm component");
      }
      try {
        const { record, replaced } = await engine.put(
          name,
          bytes,
          { config, binding },
          actor(c),
        );
        return c.json(engine.get(record.name) ?? record, replaced ? 200 : 201);
      } catch (e) {
        return handle(c, e);
      }
    },
  );

  app.put("/v1/policies/:name/binding", async (c) => {
    let body: unknown;
    try {
      body = await c.req.json();
    } catch {
      return fail(c, "INVALID_ARGUMENT", "the body must be a JSON object");
    }
    if (typeof body !== "object" || body === null || Array.isArray(body)) {
      return fail(c, "INVALID_ARGUMENT", "the body must be a JSON object");
    }
    const b = body as Record<string, unknown>;
    const strings = (v: unknown) => Array.isArray(v) && v.every((s) => typeof s === "string");
    if (b.realities !== undefined && !strings(b.realities)) {
      return fail(c, "INVALID_ARGUMENT", "realities must be a list of strings");
    }
    if (b.topics !== undefined && !strings(b.topics)) {
      return fail(c, "INVALID_ARGUMENT", "topics must be a list of strings");
    }
    if (b.order !== undefined && typeof b.order !== "number") {
      return fail(c, "INVALID_ARGUMENT", "order must be an integer");
    }
    try {
      await engine.bind(c.req.param("name"), b as Partial<PolicyBinding>, actor(c));
      return c.json(engine.get(c.req.param("name")));
    } catch (e) {
      return handle(c, e);
    }
  });

  app.get("/v1/policies", (c) => c.json({ policies: engine.list() }));

  app.get("/v1/policies/:name", (c) => {
    const p = engine.get(c.req.param("name"));
    return p ? c.json(p) : fail(c, "NOT_FOUND", `no policy named ${c.req.param("name")}`);
  });

  app.delete("/v1/policies/:name", async (c) => {
    try {
      return c.json({ deleted: await engine.delete(c.req.param("name"), actor(c)) });
    } catch (e) {
      return handle(c, e);
    }
  });

  const view = options.auditView;
  app.get("/v1/audit", async (c) => {
    const audit = engine.audit;
    if (!audit && !view) return fail(c, "NOT_FOUND", "this node keeps no audit log");
    const from = Number(c.req.query("from") ?? "1");
    const limit = Number(c.req.query("limit") ?? "100");
    if (!Number.isSafeInteger(from) || from < 1) {
      return fail(c, "INVALID_ARGUMENT", "from must be a positive integer");
    }
    if (!Number.isSafeInteger(limit) || limit < 1 || limit > 1000) {
      return fail(c, "INVALID_ARGUMENT", "limit must be an integer from 1 to 1000");
    }
    const { entries, size } = view
      ? await view.list(from, limit)
      : { entries: audit!.list(from, limit), size: audit!.size };
    const last = entries.at(-1);
    return c.json({ entries, next: last && last.seq < size ? last.seq + 1 : null });
  });

  app.get("/v1/audit/verify", async (c) => {
    if (view) return c.json(await view.verify());
    const audit = engine.audit;
    if (!audit) return fail(c, "NOT_FOUND", "this node keeps no audit log");
    return c.json(audit.verify());
  });

  return app;
}
