/**
 * How many connections a node can hold: the open-file limit is raised first, the
 * connection cap derives from it, and the start line says both.
 * @module
 */
import { ConnectionGate } from "../shield/mod.ts";
import type { NodeMetrics } from "../telemetry/mod.ts";
import type { NodeConfig } from "./config.ts";
import { connectionBudget, type OpenFileLimit, raiseOpenFileLimit } from "./rlimit.ts";

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
 * The connection cap: the open-file soft limit is raised to the hard one first, and the
 * cap (`--max-connections`, 0: derived) never exceeds what the descriptors allow.
 */
export function openConnectionGate(
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
