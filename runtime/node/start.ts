/**
 * The composition root: builds one node (Spine, store, policies, metrics, sessions,
 * listeners) from a config and runs it until shutdown. Each step lives in its own file:
 * preflight.ts (checks), parts.ts (the layers), sessions.ts, http_app.ts, front.ts (the
 * ports), lifecycle.ts (the order of closing).
 * @module
 */
import type { PolicyEngine } from "../../casil/mod.ts";
import type { ClusterConnection } from "../cluster/mod.ts";
import { originPolicy, type WireFormat } from "../shield/mod.ts";
import type { ControlParams, Spine } from "../spine/mod.ts";
import type { DurableLog } from "../store/mod.ts";
import { type AuditLog, NodeMetrics, watchProcess } from "../telemetry/mod.ts";
import {
  NativeMetrics,
  ShmServer,
  type Transport,
  type TransportSession,
} from "../transport/mod.ts";
import { tuneAllocator } from "./allocator.ts";
import { type ConnectionCapacity, openConnectionGate } from "./capacity.ts";
import { DEFAULT_CONFIG, type NodeConfig } from "./config.ts";
import { type Front, openFront, tcpUrlOf } from "./front.ts";
import { createNodeApp } from "./http_app.ts";
import { closeFailedStart, nodeShutdown } from "./lifecycle.ts";
import { openParts } from "./parts.ts";
import { preflight } from "./preflight.ts";
import { openSessions } from "./sessions.ts";

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
  const { access, logger, tlsOn } = await preflight(config, nodeId, metrics);
  const parts = await openParts({ config, nodeId, dataDir, metrics, access, logger });
  const { cluster, store, spine, casil, audit, control } = parts;
  const edge = await openSessions({ config, nodeId, spine, store, metrics, access, logger });
  const { attach } = edge;
  const startedAt = Date.now();

  const shm = config.shm
    ? new ShmServer(config.shm, (t) => attach(t, "proto"), {
      slots: config.shmSlots,
      ringBytes: config.shmRingBytes,
      metrics: new NativeMetrics(metrics.registry),
    })
    : null;

  const origins = originPolicy(config.corsOrigin);
  const app = createNodeApp({
    config,
    nodeId,
    parts,
    metrics,
    access,
    tlsOn,
    origins,
    startedAt,
    draining: edge.draining,
    sessions: () => edge.sessions,
  });

  const { gate, capacity } = openConnectionGate(config, metrics);
  let front: Front;
  try {
    front = await openFront({
      config,
      metrics,
      access,
      tlsOn,
      app,
      origins,
      gate,
      yieldTurn: () => edge.turn.next(),
      draining: edge.draining,
      attach,
    });
  } catch (err) {
    await closeFailedStart(parts, edge);
    throw err;
  }
  const { listeners, mqtt, tcp, tcpTls } = front;
  const processWatch = watchProcess(metrics);
  const shutdown = nodeShutdown(config.shutdownGraceMs, parts, edge, front, { shm, processWatch });

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
