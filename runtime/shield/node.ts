/**
 * The composition root: builds one node (Spine, metrics, sessions, HTTP/WS server) from
 * a config and runs it until shutdown.
 * @module
 */
import { openCasil, type PolicyEngine } from "../../casil/mod.ts";
import { Spine } from "../spine/mod.ts";
import { openStore, registerStoreMetrics, type SqliteLog } from "../store/mod.ts";
import { loadPayloadCipher } from "../store/crypto/mod.ts";
import { type AuditLog, NodeMetrics } from "../telemetry/mod.ts";
import type { Transport, TransportSession } from "../transport/transport.ts";
import { NativeMetrics, ShmServer } from "../transport/mod.ts";
import { NodeAccess } from "./auth/mod.ts";
import { DEFAULT_CONFIG, type NodeConfig } from "./config.ts";
import { createHttpApp } from "./http.ts";
import { Session, type WireFormat } from "./session.ts";
import { FairScheduler, IoTurn } from "./limits/mod.ts";
import { StallWatch } from "./stall_watch.ts";
import {
  checkListenPlan,
  clientAddress,
  formatAddress,
  type PeerResolver,
  startTlsTerminator,
  type TlsTerminator,
} from "./tls/mod.ts";
import { acceptWebSocket, formatOf, negotiateUpgrade, WS_PATH } from "./ws_endpoint.ts";
import { type FrontDoor, startFrontDoor } from "./front_door.ts";

/** A running node. */
export interface ArqonNode {
  /** The effective configuration. */
  readonly config: NodeConfig;
  /** The node's id. */
  readonly nodeId: string;
  /** The port it listens on (resolved when `port` was 0). */
  readonly port: number;
  /** Base HTTP URL, e.g. `http://127.0.0.1:7420`. */
  readonly url: string;
  /** WebSocket endpoint, e.g. `ws://127.0.0.1:7420/v1/ws`. */
  readonly wsUrl: string;
  /** The Spine, for embedding. */
  readonly spine: Spine;
  /** The metrics registry. */
  readonly metrics: NodeMetrics;
  /** The durable log: realities registry, retention, history. */
  readonly store: SqliteLog;
  /** CASIL: installed policies, the guard of every publish. */
  readonly policies: PolicyEngine;
  /** The hash-chained audit log of governance actions. */
  readonly audit: AuditLog;
  /** Attaches any carrier (shm, UDP, ...) as a client connection speaking our frames. */
  attach(transport: Transport, format: WireFormat): TransportSession;
  /** Stops accepting, drains subscriber queues (up to the grace period), closes. */
  shutdown(): Promise<void>;
  /** Resolves when the node has stopped. */
  readonly finished: Promise<void>;
}

/** Starts a node; resolves once it is listening. */
export async function startNode(overrides: Partial<NodeConfig> = {}): Promise<ArqonNode> {
  const config: NodeConfig = { ...DEFAULT_CONFIG, ...overrides };
  const nodeId = config.nodeId || `n${crypto.randomUUID().slice(0, 8)}`;
  const metrics = new NodeMetrics();
  // Security first: a bad key file or an unsafe listen plan stops the node before it opens anything.
  const access = await NodeAccess.create(config, nodeId, metrics.registry);
  const tlsOn = Boolean(config.tlsCert || config.tlsKey);
  if (tlsOn && !(config.tlsCert && config.tlsKey)) {
    throw new Error("--tls-cert and --tls-key go together");
  }
  const plan = checkListenPlan({
    hostname: config.host,
    tls: tlsOn,
    auth: access.required,
    insecure: config.insecure,
  });
  if (plan.error) throw new Error(plan.error);
  for (const line of plan.warnings) {
    if (config.log !== "quiet" || config.insecure) console.warn(`arqon: ${line}`);
  }
  if (access.required && config.metricsOpen && config.log !== "quiet") {
    console.warn("arqon: /metrics is open (--metrics-open): it answers without a token");
  }
  // Opened first: a damaged or busy data directory stops the node before it listens.
  const store = openStore({
    dataDir: config.memory || !config.dataDir ? null : config.dataDir,
    sync: config.sync,
    maxBytes: config.maxStoreBytes || undefined,
    // Encryption at rest: --key-file, else ARQON_STORE_KEYS / ARQON_STORE_KEY, else clear.
    cipher: await loadPayloadCipher(config.keyFile || undefined),
  });
  registerStoreMetrics(store, metrics.registry);
  const spine = new Spine({
    log: store,
    metrics,
    queue: {
      maxMessages: config.queueMessages,
      maxBytes: config.queueBytes,
      overflow: config.overflow,
    },
  });
  // CASIL: every publish passes the policy chain of its reality and topic (fail-closed).
  const casil = await openCasil({
    ...config,
    dataDir: config.memory || !config.dataDir ? null : config.dataDir,
    registry: metrics.registry,
    log: config.log,
    principalOf: async (authorization) => (await access.http(authorization)).principal,
    authRequired: access.required,
    setGuard: (guard) => spine.setGuard(guard),
  });
  // Token issues, kicks and sys.control.* publishes go to the same hash-chained log.
  access.setAudit(casil.audit);
  const sessions = new Set<Session>();
  const stalls = new StallWatch();
  // One readiness check of every socket: how the fair queue and the WebSocket reader
  // hand the loop over (see limits/io_turn.ts).
  const turn = await IoTurn.open();
  const fairness = openFairness(config, metrics, turn);
  let draining = false;
  const startedAt = Date.now();

  const attach = (transport: Transport, format: WireFormat): TransportSession => {
    const session = new Session(
      {
        spine,
        store,
        metrics,
        config,
        nodeId,
        access,
        stalls,
        fairness,
        onEnd: (s) => sessions.delete(s),
      },
      transport,
      format,
    );
    sessions.add(session);
    if (draining) session.close(1001, "node shutting down");
    return session;
  };

  const shm = config.shm
    ? new ShmServer(config.shm, (t) => attach(t, "proto"), {
      slots: config.shmSlots,
      ringBytes: config.shmRingBytes,
      metrics: new NativeMetrics(metrics.registry),
    })
    : null;

  const app = createHttpApp({
    store,
    spine,
    metrics,
    config,
    nodeId,
    startedAt,
    draining: () => draining,
    access,
  });
  app.route("/", casil.routes);
  const ws = {
    metrics,
    idleTimeoutSeconds: config.idleTimeoutSeconds,
    draining: () => draining,
    attach: attach,
  };

  // The real client of each request: behind TLS the terminator's peer, not loopback.
  let peers: PeerResolver | null = null;
  const failed = (err: unknown, client: Deno.NetAddr): Response => {
    console.error(`arqon: request from ${formatAddress(client)} failed:`, err);
    return Response.json({ error: { code: "INTERNAL", message: "internal error" } }, {
      status: 500,
    });
  };

  // With the arqon WebSocket engine the public port is the front door, which serves
  // WebSockets itself and pipes HTTP to Deno.serve; with TLS both hide on loopback
  // behind the TLS 1.3-only terminator.
  const fronted = config.wsEngine === "arqon";
  const listening = Promise.withResolvers<Deno.NetAddr>();
  const server = Deno.serve({
    hostname: tlsOn || fronted ? "127.0.0.1" : config.host,
    port: tlsOn || fronted ? 0 : config.port,
    onListen: (addr) => listening.resolve(addr as Deno.NetAddr),
    onError: (err) => {
      console.error("arqon: request failed:", err);
      return Response.json({ error: { code: "INTERNAL", message: "internal error" } }, {
        status: 500,
      });
    },
  }, (req, info) => {
    const client = clientAddress(info.remoteAddr, peers);
    try {
      const path = req.url.slice(req.url.indexOf("/", 8)).split("?")[0];
      if (path === WS_PATH && req.method === "GET") return acceptWebSocket(ws, req, client);
      const res = app.fetch(req, { remoteAddr: client, completed: info.completed });
      return res instanceof Promise ? res.catch((err) => failed(err, client)) : res;
    } catch (err) {
      return failed(err, client);
    }
  });
  const httpAddr = await listening.promise;
  let acceptErrorLoggedAt = 0;
  let door: FrontDoor | null = null;
  let tls: TlsTerminator | null = null;
  if (fronted) {
    try {
      door = startFrontDoor({
        hostname: tlsOn ? "127.0.0.1" : config.host,
        port: tlsOn ? 0 : config.port,
        wsPath: WS_PATH,
        upstream: { hostname: httpAddr.hostname, port: httpAddr.port },
        // Above --max-frame-bytes the session answers FRAME_TOO_LARGE; far above, the
        // connection closes (1009) rather than buffer it.
        maxMessageBytes: Math.max(4 * config.maxFrameBytes, 16 * 1024 * 1024),
        idleTimeoutSeconds: config.idleTimeoutSeconds,
        // Room for what a session queues before it holds deliveries back (the high-water
        // mark, then one batch, history chunk or pulse, JSON-encoded), with margin.
        maxBufferedBytes: 2 * config.highWaterBytes +
          4 * (Math.max(config.maxBatchBytes, 256 << 10) + config.maxFrameBytes),
        onBufferedOverflow: () => metrics.disconnects.labels("", "outbound_overflow").inc(),
        yieldTurn: () => turn.next(),
        onAcceptError: (err) => {
          metrics.errors.labels("tcp", "ACCEPT_FAILED").inc();
          // Out of descriptors, this repeats: say it once every 10 s.
          const now = Date.now();
          if (config.log !== "quiet" && now - acceptErrorLoggedAt > 10_000) {
            acceptErrorLoggedAt = now;
            console.error(`arqon: accepting a connection failed (retrying): ${err}`);
          }
        },
        upgrade: (headers) => negotiateUpgrade(ws, headers),
        attach: (connection, protocol) => attach(connection, formatOf(protocol)),
        peers: { peerAddrOf: (port, host) => tls?.peerAddrOf(port, host) },
      });
    } catch (err) {
      fairness?.close();
      turn.close();
      await server.shutdown();
      throw err;
    }
  }
  const plainAddr = door ? { hostname: door.hostname, port: door.port } : httpAddr;
  if (tlsOn) {
    tls = await startTlsTerminator({
      cert: await Deno.readTextFile(config.tlsCert),
      key: await Deno.readTextFile(config.tlsKey),
      hostname: config.host,
      port: config.port,
      upstream: { hostname: plainAddr.hostname, port: plainAddr.port },
      onHandshakeError: () => access.tlsHandshakeFailed(),
    });
  }
  peers = door ?? tls;
  const addr = tls ? { hostname: tls.hostname, port: tls.port } : plainAddr;
  const host = addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname;

  let shutdownPromise: Promise<void> | null = null;
  const shutdown = (): Promise<void> => {
    shutdownPromise ??= (async () => {
      draining = true;
      for (const s of sessions) s.startDrain();
      const deadline = Date.now() + config.shutdownGraceMs;
      while (Date.now() < deadline && [...sessions].some((s) => !s.idle)) {
        await new Promise((r) => setTimeout(r, 10));
      }
      for (const s of [...sessions]) s.close(1001, "node shutting down");
      fairness?.close();
      turn.close();
      await shm?.close();
      await tls?.close();
      door?.close();
      await server.shutdown();
      store.close();
      casil.close();
    })();
    return shutdownPromise;
  };

  return {
    config,
    nodeId,
    port: addr.port,
    url: `${tls ? "https" : "http"}://${host}:${addr.port}`,
    wsUrl: `${tls ? "wss" : "ws"}://${host}:${addr.port}/v1/ws`,
    spine,
    metrics,
    store,
    policies: casil.engine,
    audit: casil.audit,
    attach: attach,
    shutdown,
    finished: server.finished,
  };
}

/** The fair ingress scheduler (`--fair-quantum-us`, 0: off) and its queue gauge. */
function openFairness(
  config: NodeConfig,
  metrics: NodeMetrics,
  turn: IoTurn,
): FairScheduler | undefined {
  if (config.fairQuantumUs <= 0) return undefined;
  const fairness = new FairScheduler({
    quantumMs: config.fairQuantumUs / 1000,
    nextTurn: (callback) => turn.schedule(callback),
    maxQueuedPerReality: config.realityQueueBytes,
    onError: (err, reality) => console.error(`arqon: ingress work of "${reality}" failed:`, err),
  });
  metrics.onCollect(() => {
    metrics.ingressQueuedBytes.reset();
    for (const load of fairness.loads()) {
      metrics.ingressQueuedBytes.labels(load.realityId || "default").set(load.bytes);
    }
  });
  return fairness;
}
