/**
 * The composition root: builds one node (Spine, store, policies, metrics, sessions,
 * listeners) from a config and runs it until shutdown.
 * @module
 */
import { governanceActor, openCasil, type PolicyEngine } from "../../casil/mod.ts";
import {
  CircuitHost,
  circuitRoutes,
  OperatorHost,
  operatorRoutes,
  registerOperatorMetrics,
} from "../../operators/mod.ts";
import { type ClusterConnection, connectCluster, JetStreamFabric } from "../cluster/mod.ts";
import { Engine } from "../sandbox/mod.ts";
import { replayRoutes, Replays } from "../../operators/replay/mod.ts";
import { NodeAccess } from "../shield/auth/mod.ts";
import { FairScheduler, IoTurn } from "../shield/limits/mod.ts";
import {
  ConnectionGate,
  createHttpApp,
  originPolicy,
  paramsRoutes,
  Session,
  sessionOptions,
  StallWatch,
  type WireFormat,
} from "../shield/mod.ts";
import { checkListenPlan, startTlsTerminator, type TlsTerminator } from "../shield/tls/mod.ts";
import { ControlParams, Spine } from "../spine/mod.ts";
import { type DurableLog, openStore, registerStoreMetrics } from "../store/mod.ts";
import { loadPayloadCipher } from "../store/crypto/mod.ts";
import { AuditLog, Logger, NodeMetrics, PulseTracer, watchProcess } from "../telemetry/mod.ts";
import {
  NativeMetrics,
  ShmServer,
  type Transport,
  type TransportSession,
} from "../transport/mod.ts";
import { type MqttListener, startMqttListener } from "../transport/mqtt/mod.ts";
import { startTcpListener, type TcpListener } from "../transport/tcp/mod.ts";
import { DEFAULT_CONFIG, type NodeConfig } from "./config.ts";
import { startListeners } from "./listen.ts";
import { tuneAllocator } from "./allocator.ts";
import { connectionBudget, type OpenFileLimit, raiseOpenFileLimit } from "./rlimit.ts";
import { shutdownOnce } from "./shutdown.ts";
import { NodeGovernance } from "./governance.ts";

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
  /** The MQTT listener's port (`--mqtt-port`, resolved when 0), or null when off. */
  readonly mqttPort: number | null;
  /** The MQTT listener, e.g. `mqtt://127.0.0.1:1883`, or null when off. */
  readonly mqttUrl: string | null;
  /** The raw TCP listener's port (`--tcp-port`, resolved when 0), or null when off. */
  readonly tcpPort: number | null;
  /** The raw TCP listener, `tcp://127.0.0.1:7421` (`tls://` with TLS), or null when off. */
  readonly tcpUrl: string | null;
  /** The Spine, for embedding. */
  readonly spine: Spine;
  /** The metrics registry. */
  readonly metrics: NodeMetrics;
  /**
   * The NATS JetStream connection of a cluster node (`--cluster`), or null when embedded.
   * For the node's own cluster parts (it hands out `@nats-io/*` client types).
   * @ignore
   */
  readonly cluster: ClusterConnection | null;
  /** The durable log: realities registry, retention, history. */
  readonly store: DurableLog;
  /** CASIL: installed policies, the guard of every publish. */
  readonly policies: PolicyEngine;
  /** The hash-chained audit log of governance actions. */
  readonly audit: AuditLog;
  /** Control parameters of the realities (`sys.control.set`). */
  readonly control: ControlParams;
  /** Attaches any carrier (shm, UDP, ...) as a client connection speaking our frames. */
  attach(transport: Transport, format: WireFormat): TransportSession;
  /** Stops accepting, drains subscriber queues (up to the grace period), closes. */
  shutdown(): Promise<void>;
  /** Resolves when the node has stopped. */
  readonly finished: Promise<void>;
  /** How many connections the node can hold, and why (the open-file limit). */
  readonly capacity: ConnectionCapacity;
}

/** The connections a node can hold, as derived at start. */
export interface ConnectionCapacity {
  /** The process's open-file limit after raising it. */
  readonly openFiles: OpenFileLimit;
  /** The connection cap in force (`--max-connections`, or derived). */
  readonly maxConnections: number;
  /** Connections the node can hold: the cap, or fewer when descriptors run out first. */
  readonly holds: number;
}

/**
 * The start line about connections: the open-file limit, whether it was raised, and how
 * many connections the node holds.
 */
export function capacityLine(capacity: ConnectionCapacity, wsEngine: string): string {
  const files = capacity.openFiles;
  const raised = files.soft > files.before ? ` (raised from ${files.before})` : "";
  const why = files.problem ? `; could not raise it: ${files.problem}` : "";
  const engine = wsEngine === "arqon"
    ? ""
    : " (not enforced with --ws-engine deno: Deno.serve accepts connections itself)";
  return `arqon: open-file limit ${files.soft}${raised}, hard ${files.hard}${why}: ` +
    `holds up to ${capacity.holds} connections (--max-connections ${capacity.maxConnections})` +
    engine;
}

/**
 * Starts a node; resolves once it is listening. Options left out take their value from
 * `DEFAULT_CONFIG` (an embedded node keeps its log in memory unless `dataDir` is set).
 *
 * @example Embed a node in a process
 * ```ts
 * import { startNode } from "@arqon/bus";
 *
 * // Port 0 picks a free port; `memory: true` keeps the durable log in memory.
 * const node = await startNode({ port: 0, memory: true, log: "quiet" });
 * console.log(`clients connect to ${node.wsUrl}`);
 * await node.shutdown();
 * ```
 *
 * @example Configure from command-line flags, as `deno run -A mod.ts` does
 * ```ts
 * import { parseConfig, startNode } from "@arqon/bus";
 *
 * const parsed = parseConfig(["--port", "0", "--memory", "--log", "quiet"]);
 * if (!parsed.help) {
 *   const node = await startNode(parsed.config);
 *   console.log(node.config.queueMessages); // 65536, the default of --queue-messages
 *   await node.shutdown();
 * }
 * ```
 */
export async function startNode(overrides: Partial<NodeConfig> = {}): Promise<ArqonNode> {
  const config: NodeConfig = { ...DEFAULT_CONFIG, ...overrides };
  // Before the node allocates its buffers: batch memory is reused, not re-faulted (allocator.ts).
  tuneAllocator();
  const nodeId = config.nodeId || `n${crypto.randomUUID().slice(0, 8)}`;
  const dataDir = config.memory || !config.dataDir ? null : config.dataDir;
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
  // MQTT has no TLS here yet: beside a TLS port, tokens in its passwords would travel in clear.
  if (config.mqttPort >= 0 && tlsOn && !config.insecure) {
    throw new Error("--mqtt-port speaks plain TCP: beside --tls-cert it needs --insecure");
  }
  // The structured log of connects, disconnects, errors, installs and kicks;
  // `--log quiet` keeps only errors, as before.
  const logger = new Logger({
    logFormat: config.logFormat,
    logLevel: config.log === "quiet" ? "error" : config.logLevel,
  });
  access.setLogger(logger);
  for (const line of plan.warnings) {
    if (config.log !== "quiet" || config.insecure) console.warn(`arqon: ${line}`);
  }
  if (access.required && config.metricsOpen && config.log !== "quiet") {
    console.warn("arqon: /metrics is open (--metrics-open): it answers without a token");
  }
  // `--cluster`: one NATS connection for every cluster part of the node; no server
  // answering stops the node before it opens anything else.
  const cluster = config.cluster
    ? await connectCluster({ ...config, name: `arqon-${nodeId}` })
    : null;
  if (cluster && config.log !== "quiet") {
    console.log(
      `arqon: cluster node on NATS ${cluster.servers.join(",")} ` +
        `(${cluster.clusterSize} servers, streams R${cluster.replicas})`,
    );
  }
  // Opened first: a damaged or busy data directory stops the node before it listens.
  const store = openStore({
    dataDir,
    sync: config.sync,
    maxBytes: config.maxStoreBytes || undefined,
    // Encryption at rest: --key-file, else ARQON_STORE_KEYS / ARQON_STORE_KEY, else clear.
    cipher: await loadPayloadCipher(config.keyFile || undefined),
  });
  registerStoreMetrics(store, metrics.registry);
  const spine = new Spine({
    log: store,
    metrics,
    maxRealities: config.maxRealities,
    vclock: config.vclock !== "off",
    presenceMaxMembers: config.presenceMaxMembers,
    anycast: {
      maxPerSubscription: config.anycastMaxPerSubscription,
      maxPerReality: config.anycastMaxPerReality,
      exactMax: config.anycastExactMax,
    },
    queue: {
      maxMessages: config.queueMessages,
      maxBytes: config.queueBytes,
      overflow: config.overflow,
    },
  });
  // A cluster node: realities live on JetStream streams, which sequence every pulse and
  // bring it back to every node in order (runtime/cluster/fabric.ts).
  const fabric = cluster
    ? new JetStreamFabric(cluster, {
      onError: (what, err) => logger.error("error", { what: `cluster: ${what}`, error: err }),
      kept: {
        list: () => store.listRealities().map((r) => r.name),
        has: (id) => store.getReality(id) !== undefined,
      },
    })
    : null;
  if (fabric) await fabric.attach(spine);
  // A reality's anycast dimension: its own setting (limits.anycastDim), else the node's.
  spine.anycast.dimension = (r) =>
    store.getReality(r)?.config.limits.anycastDim || config.anycastDim;
  // Pulse spans over OTLP/HTTP only when asked: without an endpoint no tracer exists.
  spine.tracer = PulseTracer.create({
    endpoint: config.otelEndpoint,
    sampleRatio: sampleRatio(config.otelSample),
    nodeId,
  });
  // One hash-chained log for every governance action: policy changes, token issues,
  // kicks and sys.control.* publishes.
  const audit = AuditLog.open({ path: dataDir ? `${dataDir}/audit/audit.jsonl` : null });
  // Control parameters: checked in the Spine's publish path (every transport, operator
  // outputs too), kept in the store, and audited on every change: no option turns that off.
  const control = new ControlParams({
    audit,
    store,
    maxParams: config.controlMaxParams,
    maxBytes: config.controlMaxBytes,
    onLimit: (limit) => metrics.limitHits.labels(limit).inc(),
  });
  spine.setControl(control);
  // Cluster governance (policies, parameters, bans, revocations in KV): opened before the
  // registries, whose local changes it shares.
  const governance = cluster
    ? await NodeGovernance.open({
      nc: cluster.nc,
      nodeId,
      replicas: cluster.replicas,
      logger,
      store,
    })
    : null;
  // One sandbox engine per node (module cache, instrumenting worker), shared by every Wasm
  // host of the node; closed at shutdown.
  const sandbox = new Engine({ worker: true });
  // CASIL: every publish passes the policy chain of its reality and topic (fail-closed).
  const casil = await openCasil({
    policyFuel: config.policyFuel,
    policyMemoryPages: config.policyMemoryPages,
    policyMaxUploadBytes: config.policyMaxUploadBytes,
    maxPayloadBytes: config.maxFrameBytes,
    sandbox,
    dataDir,
    audit,
    registry: metrics.registry,
    log: config.log,
    logger,
    principalOf: async (authorization) => (await access.http(authorization)).principal,
    authRequired: access.required,
    setGuard: (guard) => spine.setGuard(guard),
    replicate: governance?.replicatePolicy,
    auditView: governance?.auditView,
  });
  access.setAudit(audit);
  // Installs, replacements and removals of policies and operators, as the audit records them.
  audit.onAppend((e) => {
    if (e.action.startsWith("policy.") || e.action.startsWith("operator.")) {
      logger.info(e.action, { actor: e.actor, ...e.details });
    }
    // A cluster node also writes each entry to the cluster's one chain.
    governance?.audit.append(e);
  });
  // Tier-Ω operators: each runs in its own Worker; the node's engine checks components.
  const operators = new OperatorHost({
    ...config,
    spine,
    // A cluster node mirrors each state commit to the cluster, for a node taking over.
    store: governance?.operatorState ?? store,
    engine: sandbox,
    control,
    dir: dataDir ? `${dataDir}/operators` : null,
    audit,
    log: (level, message) => logger.log(level, "operator", { message }),
    // A cluster node shares installs and runs an operator only while it holds its lease.
    replicate: governance?.replicateOperator,
    mayRun: governance?.mayRun,
    beforeRun: governance?.beforeRun,
  });
  registerOperatorMetrics(metrics, operators);
  await operators.load();
  // Circuits: typed pipelines of operators (operators/circuits), back after the operators.
  const circuits = new CircuitHost({
    operators,
    spine,
    dir: dataDir ? `${dataDir}/circuits` : null,
    audit,
    log: (level, message) => logger.log(level, "circuit", { message }),
    replicate: governance?.replicateCircuit,
  });
  await circuits.load();
  // The cluster's current governance, applied before the node serves anyone.
  await governance?.start({
    policies: casil.engine,
    control,
    spine,
    access,
    operators,
    circuits,
  });
  const sessions = new Set<Session>();
  const stalls = new StallWatch();
  // One readiness check of every socket: how the fair queue and the WebSocket reader
  // hand the loop over (see shield/limits/io_turn.ts).
  const turn = await IoTurn.open();
  const fairness = openFairness(config, metrics, turn, logger);
  let draining = false;
  const startedAt = Date.now();

  const sessionConfig = sessionOptions(config);
  const attach = (transport: Transport, format: WireFormat): TransportSession => {
    const session = new Session(
      {
        spine,
        store,
        metrics,
        options: sessionConfig,
        nodeId,
        access,
        stalls,
        fairness,
        nextTurn: (callback) => turn.schedule(callback),
        onEnd: (s) => {
          sessions.delete(s);
          logger.info("disconnect", { session: s.id, transport: transport.kind });
        },
      },
      transport,
      format,
    );
    sessions.add(session);
    logger.info("connect", {
      session: session.id,
      transport: transport.kind,
      remote: transport.remote,
      format,
    });
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

  const origins = originPolicy(config.corsOrigin);
  const app = createHttpApp({
    store,
    spine,
    metrics,
    nodeId,
    startedAt,
    draining: () => draining,
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
    sessions: () => sessions,
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

  const { gate, capacity } = openConnectionGate(config, metrics);
  // Room for what a session queues before it holds deliveries back (the high-water
  // mark, then one batch, history chunk or pulse, JSON-encoded), with margin.
  const maxBufferedBytes = 2 * config.highWaterBytes +
    4 * (Math.max(config.maxBatchBytes, 256 << 10) + config.maxFrameBytes);
  let listeners;
  let mqtt: MqttListener | null = null;
  let tcp: TcpListener | null = null;
  let tcpTls: TlsTerminator | null = null;
  try {
    listeners = await startListeners({
      host: config.host,
      port: config.port,
      wsEngine: config.wsEngine,
      tls: tlsOn ? { certFile: config.tlsCert, keyFile: config.tlsKey } : null,
      maxFrameBytes: config.maxFrameBytes,
      // Room for what a session queues before it holds deliveries back (the high-water
      // mark, then one batch, history chunk or pulse, JSON-encoded), with margin.
      maxBufferedBytes,
      onBufferedOverflow: () => metrics.disconnects.labels("", "outbound_overflow").inc(),
      log: config.log,
      app,
      ws: {
        metrics,
        idleTimeoutSeconds: config.idleTimeoutSeconds,
        draining: () => draining,
        origins,
        attach,
      },
      yieldTurn: () => turn.next(),
      onAcceptError: () => metrics.errors.labels("tcp", "ACCEPT_FAILED").inc(),
      onHandshakeError: () => access.tlsHandshakeFailed(),
      gate,
      httpDeadlines: {
        headerTimeoutMs: config.httpHeaderTimeoutSeconds * 1000,
        bodyTimeoutMs: config.httpBodyTimeoutSeconds * 1000,
        idleTimeoutMs: config.httpIdleTimeoutSeconds * 1000,
      },
      onLimit: (limit) => metrics.limitHits.labels(limit).inc(),
    });
    // MQTT for devices (runtime/transport/mqtt): its connections are sessions like any other.
    if (config.mqttPort >= 0) {
      mqtt = startMqttListener({
        host: config.host,
        options: config,
        attach,
        metrics,
        maxBufferedBytes,
        maxFrameBytes: config.maxFrameBytes,
        draining: () => draining,
        gate,
      });
    }
    // Raw TCP (runtime/transport/tcp): length-prefixed frames on sessions like any other;
    // with TLS the node's TLS 1.3-only terminator owns the port and hands connections over.
    if (config.tcpPort >= 0) {
      const tcpListener = startTcpListener({
        host: config.host,
        port: tlsOn ? null : config.tcpPort,
        attach,
        gate,
        maxFrameBytes: config.maxFrameBytes,
        frameTimeoutMs: config.tcpFrameTimeoutSeconds * 1000,
        idleTimeoutSeconds: config.idleTimeoutSeconds,
        yieldTurn: () => turn.next(),
        maxBufferedBytes,
        onBufferedOverflow: () => metrics.disconnects.labels("", "outbound_overflow").inc(),
        onLimit: (limit) => metrics.limitHits.labels(limit).inc(),
        onAcceptError: () => metrics.errors.labels("tcp", "ACCEPT_FAILED").inc(),
      });
      tcp = tcpListener;
      if (tlsOn) {
        tcpTls = await startTlsTerminator({
          cert: await Deno.readTextFile(config.tlsCert),
          key: await Deno.readTextFile(config.tlsKey),
          hostname: config.host,
          port: config.tcpPort,
          onConnection: (conn, client) =>
            tcpListener.accept(
              conn,
              client.hostname.includes(":")
                ? `[${client.hostname}]:${client.port}`
                : `${client.hostname}:${client.port}`,
            ),
          onHandshakeError: () => access.tlsHandshakeFailed(),
        });
      }
    }
  } catch (err) {
    await tcpTls?.close();
    await tcp?.close();
    await mqtt?.close();
    await listeners?.closeFront();
    await listeners?.shutdownHttp();
    fairness?.close();
    turn.close();
    await operators.close();
    sandbox.close();
    fabric?.close();
    await governance?.close(0);
    await cluster?.close();
    throw err;
  }
  const { closeFront, shutdownHttp } = listeners;
  const processWatch = watchProcess(metrics);

  const shutdown = shutdownOnce({
    sessions,
    graceMs: config.shutdownGraceMs,
    beginDrain: () => draining = true,
    closers: [
      () => fairness?.close(),
      () => turn.close(),
      () => shm?.close(),
      () => mqtt?.close(),
      () => tcpTls?.close(),
      () => tcp?.close(),
      closeFront,
      shutdownHttp,
      // Lease renewals end first (nothing restarts an operator once stopped); the leases
      // are given up once the operators stopped, so another node takes them over at once.
      () => governance?.stopLeases(),
      () => operators.close(),
      () => governance?.releaseLeases(),
      () => fabric?.close(),
      () => governance?.close(),
      () => store.close(),
      () => cluster?.close(),
      () => casil.close(),
      () => sandbox.close(),
      () => audit.close(),
      () => processWatch.close(),
      () => spine.tracer?.close(),
    ],
  });

  return {
    config,
    nodeId,
    port: listeners.port,
    url: listeners.url,
    wsUrl: listeners.wsUrl,
    mqttPort: mqtt?.port ?? null,
    mqttUrl: mqtt?.url ?? null,
    tcpPort: tcp ? (tcpTls?.port ?? tcp.port) : null,
    tcpUrl: tcp ? tcpUrlOf(config.host, tcpTls?.port ?? tcp.port, tcpTls !== null) : null,
    spine,
    metrics,
    cluster,
    store,
    policies: casil.engine,
    audit,
    control,
    attach,
    shutdown,
    finished: listeners.finished,
    capacity,
  };
}

/** `tcp://host:port`, or `tls://host:port` when the TCP port speaks TLS. */
function tcpUrlOf(host: string, port: number, tls: boolean): string {
  const h = host.includes(":") ? `[${host}]` : host;
  return `${tls ? "tls" : "tcp"}://${h}:${port}`;
}

/**
 * The connection cap: the open-file soft limit is raised to the hard one first, and the
 * cap (`--max-connections`, 0: derived) never exceeds what the descriptors allow.
 */
function openConnectionGate(
  config: NodeConfig,
  metrics: NodeMetrics,
): { gate: ConnectionGate; capacity: ConnectionCapacity } {
  const openFiles = raiseOpenFileLimit();
  const budget = connectionBudget(openFiles.soft);
  const max = config.maxConnections > 0 ? config.maxConnections : budget;
  metrics.connectionsMax.set(max);
  return {
    gate: new ConnectionGate({ maxConnections: max, maxDescriptors: budget }),
    capacity: { openFiles, maxConnections: max, holds: Math.min(max, budget) },
  };
}

/** The fair ingress scheduler (`--fair-quantum-us`, 0: off) and its queue gauge. */
function openFairness(
  config: NodeConfig,
  metrics: NodeMetrics,
  turn: IoTurn,
  logger: Logger,
): FairScheduler | undefined {
  if (config.fairQuantumUs <= 0) return undefined;
  const fairness = new FairScheduler({
    quantumMs: config.fairQuantumUs / 1000,
    nextTurn: (callback) => turn.schedule(callback),
    maxQueuedPerReality: config.realityQueueBytes,
    onError: (err, reality) => logger.error("error", { what: "ingress", reality, error: err }),
  });
  metrics.onCollect(() => {
    metrics.ingressQueuedBytes.reset();
    for (const load of fairness.loads()) {
      metrics.ingressQueuedBytes.labels(load.realityId || "default").set(load.bytes);
    }
  });
  return fairness;
}

/** `--otel-sample` as a ratio; anything but a number from 0 to 1 stops the node at start. */
function sampleRatio(text: string): number {
  const ratio = Number(text);
  if (text.trim() === "" || !Number.isFinite(ratio) || ratio < 0 || ratio > 1) {
    throw new Error(`--otel-sample must be a number from 0 to 1, not "${text}"`);
  }
  return ratio;
}
