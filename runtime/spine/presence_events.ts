/**
 * Wires a Spine's presence board: events become pulses on `sys.presence.join` and
 * `sys.presence.leave` of their reality (producer `node`, sequence 0: not logged), operators registered in the
 * agent directory join and leave with their registration, and refusals by the bound are
 * counted in `arqon_limit_hits_total{limit="presence_max_members"}`.
 * @module
 */
import type { NodeMetrics } from "../telemetry/mod.ts";
import { OPERATOR_PRODUCER_PREFIX } from "./agents.ts";
import { PresenceBoard, type PresenceEvent, presenceTopic } from "./presence.ts";
import type { IPulse } from "../protocol/mod.ts";
import type { AgentDirectory } from "./agents.ts";

const encoder = new TextEncoder();

/** Whether `topic` is a presence event's (`sys.presence.*`): only the node publishes there. */
export function isPresenceTopic(topic: string): boolean {
  return topic.startsWith("sys.presence.");
}

/** The producer id presence events carry. */
export const PRESENCE_PRODUCER = "node";

/** What the board needs from its Spine (an interface: the Spine imports this file). */
export interface PresenceHost {
  /** Operators join and leave with their registration here. */
  readonly agents: AgentDirectory;
  /** Delivers an event to its subscribers (unsequenced, unlogged: see `Spine`). */
  publish(pulse: IPulse, producerId: string): unknown;
}

/** A board for `spine`, publishing its events there. */
export function wirePresence(
  spine: PresenceHost,
  maxPerReality: number | undefined,
  metrics: Pick<NodeMetrics, "limitHits">,
): PresenceBoard {
  const board = new PresenceBoard(maxPerReality);
  board.emit = (event) => announce(spine, event);
  board.onLimit = () => metrics.limitHits.labels("presence_max_members").inc();
  spine.agents.onOperator = (name, reality, capabilities, registered) => {
    const key = OPERATOR_PRODUCER_PREFIX + name;
    if (!registered) return board.leave(key);
    // A replaced operator (new version) keeps its place: leave first only if it moved.
    if (!board.has(key, reality)) board.leave(key);
    board.join(key, reality, { name, kind: "operator", capabilities });
  };
  return board;
}

function announce(spine: PresenceHost, event: PresenceEvent): void {
  const pulse = {
    realityId: event.reality,
    topic: presenceTopic(event.event),
    contentType: "application/json",
    payload: encoder.encode(JSON.stringify(event)),
  };
  // Best effort: a failed delivery must not fail the publish, subscribe or close that
  // caused it; the listing still shows the truth.
  try {
    spine.publish(pulse, PRESENCE_PRODUCER);
  } catch {
    // Nothing to undo.
  }
}
