/**
 * The Shield's node options: what a client may send (frame, body and subscription
 * limits) and how the edge paces work (outbound batching and backpressure, fair ingress,
 * request timeouts), each with a flag. Security options live in `auth/security_options.ts`.
 * @module
 */
import type { Flag } from "../config/mod.ts";

/** Limits on what one client may send; every one has a flag (see `SHIELD_LIMIT_FLAGS`). */
export interface ShieldLimitOptions {
  /**
   * Largest accepted WebSocket frame.
   * @default {1048576}
   */
  maxFrameBytes: number;
  /**
   * Largest accepted HTTP request body.
   * @default {1048576}
   */
  maxHttpBodyBytes: number;
  /**
   * Subscriptions one connection may hold.
   * @default {1024}
   */
  maxSubscriptionsPerConnection: number;
  /**
   * Requests one connection may have waiting for their reply; each holds an inbox
   * subscription until it is answered, times out or its connection closes.
   * @default {1024}
   */
  maxPendingRequests: number;
  /**
   * Client connections (WebSocket or HTTP) the node holds; beyond it an HTTP client gets
   * a 503 and a WebSocket a close 1013. 0: derived from the open-file limit.
   * @default {0}
   */
  maxConnections: number;
  /**
   * Seconds a client may take to send a whole HTTP request head (slowloris).
   * @default {10}
   */
  httpHeaderTimeoutSeconds: number;
  /**
   * Seconds a client may take to send a whole HTTP request body once its head arrived.
   * @default {60}
   */
  httpBodyTimeoutSeconds: number;
  /**
   * Seconds an HTTP keep-alive connection may stay without a request or a response in
   * progress.
   * @default {60}
   */
  httpIdleTimeoutSeconds: number;
  /**
   * Seconds a WebSocket may stay open before its hello is answered with a Welcome.
   * @default {5}
   */
  helloTimeoutSeconds: number;
}

/** How the edge paces work; every one has a flag (see `SHIELD_FLOW_FLAGS`). */
export interface ShieldFlowOptions {
  /**
   * Socket-buffered bytes above which the node stops writing to a connection.
   * @default {4194304}
   */
  highWaterBytes: number;
  /**
   * Target size of one outbound batch message.
   * @default {262144}
   */
  maxBatchBytes: number;
  /**
   * Microseconds of work a reality may run per event-loop turn before its work queues
   * (0: no fair queueing).
   * @default {0}
   */
  fairQuantumUs: number;
  /**
   * Bytes a reality may have queued before its further publishes are shed (RATE_LIMITED).
   * @default {16777216}
   */
  realityQueueBytes: number;
  /**
   * Default request/reply timeout.
   * @default {5000}
   */
  requestTimeoutMs: number;
  /**
   * Replies one streamed request may receive (`Request.stream`, HTTP `?stream=true`); the
   * one beyond ends the stream with QUOTA_EXCEEDED.
   * @default {10000}
   */
  streamMaxReplies: number;
  /**
   * Payload bytes one streamed request may receive in all; beyond, QUOTA_EXCEEDED.
   * @default {16777216}
   */
  streamMaxBytes: number;
  /**
   * Pulses one connection's causal gate holds at most (docs/time.md); past it the oldest
   * goes out early with CAUSAL_GAP.
   * @default {4096}
   */
  causalMaxHeld: number;
  /**
   * Bytes one connection's causal gate holds at most; past it the oldest goes out early
   * with CAUSAL_GAP.
   * @default {8388608}
   */
  causalMaxHeldBytes: number;
  /**
   * Milliseconds between keepalive comment lines on an idle SSE stream, so proxies and
   * browsers do not close it for silence; 0 sends none.
   * @default {15000}
   */
  sseKeepaliveMs: number;
}

/** Every Shield option that has a flag (security options apart). */
export interface ShieldOptions extends ShieldLimitOptions, ShieldFlowOptions {}

/** Defaults of {@linkcode ShieldOptions}. */
export const SHIELD_DEFAULTS: Readonly<ShieldOptions> = Object.freeze({
  maxFrameBytes: 1024 * 1024,
  maxHttpBodyBytes: 1024 * 1024,
  maxSubscriptionsPerConnection: 1024,
  maxPendingRequests: 1024,
  maxConnections: 0,
  httpHeaderTimeoutSeconds: 10,
  httpBodyTimeoutSeconds: 60,
  httpIdleTimeoutSeconds: 60,
  helloTimeoutSeconds: 5,
  highWaterBytes: 4 * 1024 * 1024,
  maxBatchBytes: 256 * 1024,
  fairQuantumUs: 0,
  realityQueueBytes: 16 * 1024 * 1024,
  requestTimeoutMs: 5000,
  streamMaxReplies: 10_000,
  streamMaxBytes: 16 * 1024 * 1024,
  causalMaxHeld: 4096,
  causalMaxHeldBytes: 8 * 1024 * 1024,
  sseKeepaliveMs: 15_000,
});

/** The limit options as flags, in `--help` order. */
export const SHIELD_LIMIT_FLAGS: readonly Flag<keyof ShieldLimitOptions>[] = Object.freeze([
  {
    key: "maxFrameBytes",
    flag: "max-frame-bytes",
    kind: "int",
    help: "largest accepted WebSocket frame",
  },
  {
    key: "maxHttpBodyBytes",
    flag: "max-http-body-bytes",
    kind: "int",
    help: "largest accepted HTTP body",
  },
  {
    key: "maxSubscriptionsPerConnection",
    flag: "max-subscriptions",
    kind: "int",
    help: "subscriptions per connection",
  },
  {
    key: "maxPendingRequests",
    flag: "max-pending-requests",
    kind: "int",
    help: "requests per connection waiting for their reply (QUOTA_EXCEEDED beyond)",
  },
  {
    key: "maxConnections",
    flag: "max-connections",
    kind: "int",
    help:
      "client connections the node holds (503 / close 1013 beyond; 0: from the open-file limit)",
  },
  {
    key: "httpHeaderTimeoutSeconds",
    flag: "http-header-timeout",
    kind: "int",
    help: "seconds a client may take to send an HTTP request head",
  },
  {
    key: "httpBodyTimeoutSeconds",
    flag: "http-body-timeout",
    kind: "int",
    help: "seconds a client may take to send an HTTP request body",
  },
  {
    key: "httpIdleTimeoutSeconds",
    flag: "http-idle-timeout",
    kind: "int",
    help: "seconds an HTTP keep-alive connection may idle between requests",
  },
  {
    key: "helloTimeoutSeconds",
    flag: "hello-timeout",
    kind: "int",
    help: "seconds a WebSocket may take to say hello (closed 1008 after)",
  },
]);

/** The pacing options as flags, in `--help` order. */
export const SHIELD_FLOW_FLAGS: readonly Flag<keyof ShieldFlowOptions>[] = Object.freeze([
  {
    key: "highWaterBytes",
    flag: "high-water-bytes",
    kind: "int",
    help: "socket buffer level that pauses writes to a connection",
  },
  {
    key: "maxBatchBytes",
    flag: "max-batch-bytes",
    kind: "int",
    help: "target size of one outbound batch",
  },
  {
    key: "fairQuantumUs",
    flag: "fair-quantum-us",
    kind: "int",
    help:
      "fair ingress queue for transports that cannot pause reads: µs a reality runs per turn (0: off)",
  },
  {
    key: "realityQueueBytes",
    flag: "reality-queue-bytes",
    kind: "int",
    help: "bytes a reality may have queued before its publishes are shed (RATE_LIMITED)",
  },
  {
    key: "requestTimeoutMs",
    flag: "request-timeout-ms",
    kind: "int",
    help: "default request/reply timeout (for a streamed request: between two replies)",
  },
  {
    key: "streamMaxReplies",
    flag: "stream-max-replies",
    kind: "int",
    help: "replies one streamed request may receive (QUOTA_EXCEEDED beyond)",
  },
  {
    key: "streamMaxBytes",
    flag: "stream-max-bytes",
    kind: "int",
    help: "payload bytes one streamed request may receive (QUOTA_EXCEEDED beyond)",
  },
  {
    key: "causalMaxHeld",
    flag: "causal-max-held",
    kind: "int",
    help: "pulses a connection's causal gate holds; past it the oldest goes early (CAUSAL_GAP)",
  },
  {
    key: "causalMaxHeldBytes",
    flag: "causal-max-held-bytes",
    kind: "int",
    help: "bytes a connection's causal gate holds; past it the oldest goes early (CAUSAL_GAP)",
  },
  {
    key: "sseKeepaliveMs",
    flag: "sse-keepalive-ms",
    kind: "int",
    help: "ms between keepalive comments on an idle SSE stream (0: none)",
  },
]);

/** All Shield flags (limits, then pacing). */
export const SHIELD_FLAGS: readonly Flag<keyof ShieldOptions>[] = Object.freeze([
  ...SHIELD_LIMIT_FLAGS,
  ...SHIELD_FLOW_FLAGS,
]);
