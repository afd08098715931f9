/**
 * The order in which a node's parts close: at shutdown (ports first, the store after
 * every writer, the cluster connection after the store) and when a start fails half-way.
 * @module
 */
import type { ShmServer } from "../transport/mod.ts";
import type { Front } from "./front.ts";
import type { NodeParts } from "./parts.ts";
import type { NodeSessions } from "./sessions.ts";
import { shutdownOnce } from "./shutdown.ts";

/** Closes what a start opened before its ports failed to open (they closed themselves). */
export async function closeFailedStart(parts: NodeParts, edge: NodeSessions): Promise<void> {
  edge.fairness?.close();
  edge.turn.close();
  await parts.operators.close();
  parts.sandbox.close();
  parts.fabric?.close();
  await parts.governance?.close(0);
  await parts.cluster?.close();
}

/** What a running node closes at shutdown, besides its parts, sessions and ports. */
export interface NodeExtras {
  /** The shared-memory server (`--shm`), or null. */
  readonly shm: ShmServer | null;
  /** The process gauges' watch. */
  readonly processWatch: { close(): void };
}

/** The node's `shutdown`: drain the sessions for up to the grace period, then close in order. */
export function nodeShutdown(
  graceMs: number,
  parts: NodeParts,
  edge: NodeSessions,
  front: Front,
  extras: NodeExtras,
): () => Promise<void> {
  const { governance, operators, fabric, store, cluster, casil, sandbox, audit, spine } = parts;
  const { mqtt, tcpTls, tcp, listeners } = front;
  return shutdownOnce({
    sessions: edge.sessions,
    graceMs,
    beginDrain: edge.beginDrain,
    closers: [
      () => edge.fairness?.close(),
      () => edge.turn.close(),
      () => extras.shm?.close(),
      () => mqtt?.close(),
      () => tcpTls?.close(),
      () => tcp?.close(),
      listeners.closeFront,
      listeners.shutdownHttp,
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
      () => extras.processWatch.close(),
      () => spine.tracer?.close(),
    ],
  });
}
