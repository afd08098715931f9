/**
 * CASIL as a node part: the policy engine under the node's data dir, writing to the node's
 * audit log, and the HTTP routes with governance restricted to admins when the node requires
 * authentication.
 * @module
 */
import type { Context, Hono } from "hono";
import type client from "prom-client";
import type { Engine } from "../runtime/sandbox/mod.ts";
import type { PulseGuard } from "../runtime/spine/mod.ts";
import type { AuditLog, Logger } from "../runtime/telemetry/mod.ts";
import { builtinComponent } from "./builtins.ts";
import type { PolicyOptions } from "./config.ts";
import { PolicyEngine, type PolicyEngineOptions } from "./engine.ts";
import { PolicyError } from "./errors.ts";
import { type AuditView, policyRoutes } from "./http.ts";
import { CasilMetrics } from "./metrics.ts";

/** The authenticated caller of a request, as the node's access layer knows it. */
export interface CallerPrincipal {
  /** Token subject or DID. */
  readonly subject: string;
  /** Roles granted (`admin` may govern policies). */
  readonly roles: readonly string[];
}

/** What {@linkcode openCasil} needs from the node. */
export interface CasilNodeOptions extends PolicyOptions {
  /** The node's data dir; null keeps policies in memory. */
  dataDir: string | null;
  /** The node's audit log (opened and closed by the node): policy changes are written to it. */
  audit: AuditLog;
  /** The node's metrics registry. */
  registry: client.Registry;
  /** `quiet` silences policy logs. */
  log?: "info" | "quiet";
  /** The node's structured log; when set, the engine's lines go there (event `policy`). */
  logger?: Logger;
  /** Resolves the caller of an HTTP request from its Authorization header. */
  principalOf?: (authorization: string | undefined) => Promise<CallerPrincipal | undefined>;
  /** When true, governance routes need an authenticated admin. */
  authRequired?: boolean;
  /**
   * The node's sandbox engine (one per node, shared with other Wasm hosts; the node closes
   * it). When absent CASIL makes its own, instrumenting in a worker, closed by `close`.
   */
  sandbox?: Engine;
  /** Largest payload a redaction may produce (the node's `--max-frame-bytes`). */
  maxPayloadBytes?: number;
  /** Installs the engine as the Spine's guard while policies exist (see `PolicyEngine`). */
  setGuard?: (guard: PulseGuard | undefined) => void;
  /** Shares each policy change with the cluster before it takes effect (see `PolicyEngine`). */
  replicate?: PolicyEngineOptions["replicate"];
  /** The chain `GET /v1/audit` and `/v1/audit/verify` serve instead of `audit` (a cluster's). */
  auditView?: AuditView;
}

/** The CASIL part of a node. */
export interface CasilNode {
  /** The policy engine (the Spine's guard while policies exist). */
  readonly engine: PolicyEngine;
  /** The node's audit log, as given (the node also writes tokens, realities, kicks to it). */
  readonly audit: AuditLog;
  /** Routes to mount at the root of the node's HTTP app. */
  readonly routes: Hono;
  /**
   * Closes the sandbox engine CASIL made, if it made one (the audit log and a sandbox engine
   * passed in stay open: the node owns them).
   */
  close(): void;
}

/** Loads the stored policies and builds the routes. */
export async function openCasil(options: CasilNodeOptions): Promise<CasilNode> {
  const audit = options.audit;
  const quiet = options.log === "quiet";
  const engine = new PolicyEngine({
    limits: { fuelPerCall: options.policyFuel, memoryPages: options.policyMemoryPages },
    maxUploadBytes: options.policyMaxUploadBytes,
    maxPayloadBytes: options.maxPayloadBytes,
    sandbox: options.sandbox,
    instrumentInWorker: true,
    dir: options.dataDir ? `${options.dataDir}/policies` : null,
    audit,
    metrics: new CasilMetrics(options.registry),
    setGuard: options.setGuard,
    replicate: options.replicate,
    log: (level, message) => {
      if (options.logger) options.logger.log(level, "policy", { message });
      else if (!quiet || level === "error") {
        console[level === "debug" ? "log" : level](`arqon: ${message}`);
      }
    },
  });
  await engine.load();
  const routes = policyRoutes(engine, {
    builtin: builtinComponent,
    actor: governanceActor(options),
    auditView: options.auditView,
  });
  return { engine, audit, routes, close: () => engine.close() };
}

/**
 * The caller of a governance route (policies, operators) as the audit log names it: on an
 * open node the subject of a valid token or `anonymous`; when auth is required, an admin's
 * subject, else a `PolicyError` (`UNAUTHORIZED`/`FORBIDDEN`).
 */
export function governanceActor(
  options: Pick<CasilNodeOptions, "principalOf" | "authRequired">,
): (c: Context) => Promise<string> {
  return async (c) => {
    const authorization = c.req.header("authorization");
    if (!options.authRequired) {
      // Open node: the subject, when a valid token is shown, only names the actor.
      const principal = await options.principalOf?.(authorization).catch(() => undefined);
      return principal?.subject ?? "anonymous";
    }
    const principal = await options.principalOf?.(authorization);
    if (!principal) throw new PolicyError("UNAUTHORIZED", "governance needs a bearer token");
    if (!principal.roles.includes("admin")) {
      throw new PolicyError("FORBIDDEN", "governance needs the admin role");
    }
    return principal.subject;
  };
}
