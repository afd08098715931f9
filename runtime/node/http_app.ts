/**
 * The node's HTTP API: the Shield's app (health, publish, history, SSE, A2A, metrics)
 * with the routes of the parts mounted on it (policies, parameters, operators, replay,
 * circuits), each body limit in place.
 * @module
 */
import type { Hono } from "hono";
import { governanceActor } from "../../casil/mod.ts";
import { circuitRoutes, operatorRoutes } from "../../operators/mod.ts";
import { replayRoutes, Replays } from "../../operators/replay/mod.ts";
import type { NodeAccess } from "../shield/auth/mod.ts";
import { createHttpApp, type OriginPolicy, paramsRoutes, type Session } from "../shield/mod.ts";
import type { NodeMetrics } from "../telemetry/mod.ts";
import type { NodeConfig } from "./config.ts";
import type { NodeParts } from "./parts.ts";

/** What the HTTP API needs of the node. */
export interface HttpAppContext {
  readonly config: NodeConfig;
  readonly nodeId: string;
  readonly parts: NodeParts;
  readonly metrics: NodeMetrics;
  readonly access: NodeAccess;
  /** Whether the public port speaks TLS (A2A cards name `https`). */
  readonly tlsOn: boolean;
  /** `--cors-origin` as a policy (shared with the WebSocket endpoint). */
  readonly origins: OriginPolicy;
  /** Milliseconds since the epoch when the node started. */
  readonly startedAt: number;
  /** True once shutdown began. */
  draining(): boolean;
  /** The live sessions. */
  sessions(): Iterable<Session>;
}

/** Builds the HTTP API of one node. */
export function createNodeApp(ctx: HttpAppContext): Hono {
  const { config, nodeId, metrics, access, tlsOn, origins, startedAt } = ctx;
  const { cluster, store, spine, casil, control, operators, circuits } = ctx.parts;
  const app = createHttpApp({
    store,
    spine,
    metrics,
    nodeId,
    startedAt,
    draining: ctx.draining,
    clusterAvailable: cluster ? () => cluster.connected : undefined,
    access,
    maxHttpBodyBytes: config.maxHttpBodyBytes,
    // Policy components may be larger than other bodies (`--policy-max-upload-bytes`).
    bodyLimits: [{
      method: "PUT",
      path: /^\/v1\/policies\/[^/]+$/,
      maxBytes: config.policyMaxUploadBytes,
    }, {
      // Operator components and their manifests, state snapshots (the routes' own cap: 8 MiB).
      method: "PUT",
      path: /^\/v1\/operators\/[^/]+(\/state)?$/,
      maxBytes: 8 << 20,
    }],
    requestTimeoutMs: config.requestTimeoutMs,
    streamMaxReplies: config.streamMaxReplies,
    streamMaxBytes: config.streamMaxBytes,
    a2a: {
      a2aMaxTasks: config.a2aMaxTasks,
      a2aCardMaxSkills: config.a2aCardMaxSkills,
      secure: tlsOn,
    },
    metricsOpen: config.metricsOpen,
    sseKeepaliveMs: config.sseKeepaliveMs,
    origins,
    sessions: ctx.sessions,
  });
  app.route("/", casil.routes);
  app.route("/", paramsRoutes(spine, control));
  const governanceOf = governanceActor({
    principalOf: async (authorization) => (await access.http(authorization)).principal,
    authRequired: access.required,
  });
  app.route("/", operatorRoutes(operators, { actor: governanceOf }));
  // Replay (docs/time.md): verify, fork and diff of realities through their operators.
  const replays = new Replays({
    spine,
    log: store,
    operators,
    control,
    maxConcurrent: operators.options.replayMaxConcurrent,
    snapshotEvery: operators.options.snapshotEvery,
  });
  operators.onVersion = (v) => replays.recordVersion(v);
  app.route("/", replayRoutes(replays, { actor: governanceOf }));
  app.route("/", circuitRoutes(circuits, { actor: governanceOf }));
  return app;
}
