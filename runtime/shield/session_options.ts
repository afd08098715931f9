/**
 * The options a session reads: frame and subscription limits, batching and
 * backpressure, request timeouts and flood kicks. A node builds them once from its
 * configuration and shares them between its sessions.
 * @module
 */

/** What a session is configured with. */
export interface SessionOptions {
  /**
   * Largest accepted frame (received message), in bytes; larger ones are answered with
   * FRAME_TOO_LARGE.
   * @default {1048576}
   */
  readonly maxFrameBytes: number;
  /**
   * Subscriptions one connection may hold.
   * @default {1024}
   */
  readonly maxSubscriptionsPerConnection: number;
  /**
   * Requests one connection may have waiting for their reply (QUOTA_EXCEEDED beyond).
   * @default {1024}
   */
  readonly maxPendingRequests: number;
  /**
   * Seconds a WebSocket session may stay open before it is welcomed (a hello answered);
   * then it is closed with 1008. 0: no deadline.
   * @default {5}
   */
  readonly helloTimeoutSeconds: number;
  /**
   * Transport-buffered bytes above which the session stops writing to the connection.
   * @default {4194304}
   */
  readonly highWaterBytes: number;
  /**
   * Target size of one outbound batch message, in bytes.
   * @default {262144}
   */
  readonly maxBatchBytes: number;
  /**
   * Request/reply timeout when the request names none, in milliseconds.
   * @default {5000}
   */
  readonly requestTimeoutMs: number;
  /**
   * Replies one streamed request may receive (QUOTA_EXCEEDED beyond).
   * @default {10000}
   */
  readonly streamMaxReplies?: number;
  /**
   * Payload bytes one streamed request may receive (QUOTA_EXCEEDED beyond).
   * @default {16777216}
   */
  readonly streamMaxBytes?: number;
  /**
   * Publishes shed in one second after which a flooding connection is closed (0: never).
   * @default {10000}
   */
  readonly rateKick: number;
  /**
   * Pulses one connection's causal gate holds at most (docs/time.md "Vector clocks"); past
   * it the oldest goes out early with CAUSAL_GAP.
   * @default {4096}
   */
  readonly causalMaxHeld?: number;
  /**
   * Bytes one connection's causal gate holds at most; past it the oldest goes out early
   * with CAUSAL_GAP.
   * @default {8388608}
   */
  readonly causalMaxHeldBytes?: number;
}

/** The defaults of `SessionOptions` (the node's defaults). */
export const SESSION_DEFAULTS: Readonly<SessionOptions> = {
  maxFrameBytes: 1024 * 1024,
  maxSubscriptionsPerConnection: 1024,
  maxPendingRequests: 1024,
  helloTimeoutSeconds: 5,
  highWaterBytes: 4 * 1024 * 1024,
  maxBatchBytes: 256 * 1024,
  requestTimeoutMs: 5000,
  streamMaxReplies: 10_000,
  streamMaxBytes: 16 * 1024 * 1024,
  rateKick: 10_000,
  causalMaxHeld: 4096,
  causalMaxHeldBytes: 8 * 1024 * 1024,
};

/**
 * Picks the session's fields out of a larger configuration (the node's), so sessions
 * hold only what they read.
 *
 * @example
 * ```ts
 * import { sessionOptions } from "./session_options.ts";
 *
 * const options = sessionOptions({ ...nodeConfig }); // { maxFrameBytes, ..., rateKick }
 * ```
 */
export function sessionOptions(source: SessionOptions): SessionOptions {
  return {
    maxFrameBytes: source.maxFrameBytes,
    maxSubscriptionsPerConnection: source.maxSubscriptionsPerConnection,
    maxPendingRequests: source.maxPendingRequests,
    helloTimeoutSeconds: source.helloTimeoutSeconds,
    highWaterBytes: source.highWaterBytes,
    maxBatchBytes: source.maxBatchBytes,
    requestTimeoutMs: source.requestTimeoutMs,
    streamMaxReplies: source.streamMaxReplies,
    streamMaxBytes: source.streamMaxBytes,
    rateKick: source.rateKick,
    causalMaxHeld: source.causalMaxHeld,
    causalMaxHeldBytes: source.causalMaxHeldBytes,
  };
}
