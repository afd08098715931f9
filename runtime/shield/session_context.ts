/**
 * What a session's frame handling works with (session_frames.ts, session_requests.ts,
 * session_subscriptions.ts).
 * @module
 */
import type { DurableLog, Spine, SubscriptionOwner } from "../spine/mod.ts";
import type { NodeMetrics } from "../telemetry/mod.ts";
import type { Transport } from "../transport/mod.ts";
import type { SessionAccess } from "./auth/mod.ts";
import type { Outbox } from "./session_outbox.ts";
import type { SessionOptions } from "./session_options.ts";

/** What frame handling works with; lives as long as its session. */
export interface FramesContext {
  /** The node's Spine. */
  readonly spine: Spine;
  /** The durable log: history.get and replaying subscriptions. */
  readonly store?: DurableLog;
  /** The node's metrics. */
  readonly metrics: NodeMetrics;
  /** Limits and timeouts. */
  readonly options: SessionOptions;
  /** This node's id, reported in Welcome. */
  readonly nodeId: string;
  /** The session's id, reported in Welcome. */
  readonly sessionId: string;
  /** The connection: history answers are written to it at its own pace. */
  readonly transport: Transport;
  /** Where answers go. */
  readonly outbox: Outbox;
  /** The session: owns the subscriptions, and knows whether it ended. */
  readonly session: SubscriptionOwner & { readonly ended: boolean };
  /** This connection's permissions and limits; absent: open and unlimited. */
  readonly access?: SessionAccess;
  /** Whether every connection must authenticate before anything but hello and ping. */
  readonly authRequired: boolean;
  /** Told when the session was welcomed (its hello deadline is met). */
  readonly onWelcome?: () => void;
}
