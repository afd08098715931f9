/**
 * The node's client connections: the live sessions, the one readiness turn and fair
 * ingress scheduler they share, the draining flag, and `attach`, which makes any carrier
 * a session speaking our frames.
 * @module
 */
import type { NodeAccess } from "../shield/auth/mod.ts";
import { setImmediate } from "node:timers";
import { FairScheduler, IoTurn } from "../shield/limits/mod.ts";
import { Session, sessionOptions, StallWatch, type WireFormat } from "../shield/mod.ts";
import type { Spine } from "../spine/mod.ts";
import type { DurableLog } from "../store/mod.ts";
import type { Logger, NodeMetrics } from "../telemetry/mod.ts";
import type { Transport, TransportSession } from "../transport/mod.ts";
import type { NodeConfig } from "./config.ts";

/** What the sessions need of the node. */
export interface SessionsContext {
  readonly config: NodeConfig;
  readonly nodeId: string;
  readonly spine: Spine;
  readonly store: DurableLog;
  readonly metrics: NodeMetrics;
  readonly access: NodeAccess;
  readonly logger: Logger;
}

/** The node's sessions and what they share. */
export interface NodeSessions {
  /** The live sessions. */
  readonly sessions: Set<Session>;
  /** One readiness check of every socket (see shield/limits/io_turn.ts). */
  readonly turn: IoTurn;
  /** The fair ingress scheduler, or undefined with `--fair-quantum-us 0`. */
  readonly fairness: FairScheduler | undefined;
  /** Attaches a carrier as a client connection; refused (closed 1001) while draining. */
  attach(transport: Transport, format: WireFormat): TransportSession;
  /** True once shutdown began: new connections and publishes are refused. */
  draining(): boolean;
  /** Marks the node draining. */
  beginDrain(): void;
}

/** Opens the shared turn and scheduler and returns the node's `attach`. */
export async function openSessions(ctx: SessionsContext): Promise<NodeSessions> {
  const { config, nodeId, spine, store, metrics, access, logger } = ctx;
  const sessions = new Set<Session>();
  const stalls = new StallWatch();
  // One readiness check of every socket: how the fair queue and the WebSocket reader
  // hand the loop over (see shield/limits/io_turn.ts).
  const turn = await IoTurn.open();
  const fairness = openFairness(config, metrics, turn, logger);
  let draining = false;

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
  return {
    sessions,
    turn,
    fairness,
    attach,
    draining: () => draining,
    beginDrain: () => draining = true,
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
    // With nothing queued a turn end only renews credits: no readiness check needed.
    idleTurn: setImmediate,
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
