/**
 * The node's configuration: its own options (listening, running, the shm listener) and
 * the flag table of the whole node, concatenated from each layer's read-only flag list.
 * @module
 */
import { POLICY_DEFAULTS, POLICY_FLAGS, type PolicyOptions } from "../../casil/mod.ts";
import { OPERATOR_DEFAULTS, OPERATOR_FLAGS, type OperatorOptions } from "../../operators/mod.ts";
import type { Flag } from "../config/mod.ts";
import { CLUSTER_DEFAULTS, CLUSTER_FLAGS, type ClusterOptions } from "../cluster/mod.ts";
import { SECURITY_DEFAULTS, SECURITY_FLAGS, type SecurityOptions } from "../shield/auth/mod.ts";
import {
  SHIELD_DEFAULTS,
  SHIELD_FLOW_FLAGS,
  SHIELD_LIMIT_FLAGS,
  type ShieldOptions,
} from "../shield/mod.ts";
import { SPINE_DEFAULTS, SPINE_FLAGS, type SpineNodeOptions } from "../spine/mod.ts";
import { PRESENCE_DEFAULTS, PRESENCE_FLAGS, type PresenceOptions } from "../spine/mod.ts";
import { A2A_DEFAULTS, A2A_FLAGS, type A2aOptions } from "../shield/mod.ts";
import { STORE_DEFAULTS, STORE_FLAGS, type StoreDiskOptions } from "../store/mod.ts";
import { LOG_DEFAULTS } from "../telemetry/mod.ts";
import { MQTT_DEFAULTS, MQTT_FLAGS, type MqttOptions } from "../transport/mqtt/mod.ts";
import { TCP_DEFAULTS, TCP_FLAGS, type TcpOptions } from "../transport/tcp/mod.ts";

/** Where the node listens and what it calls itself. */
export interface ListenOptions {
  /**
   * Address to listen on.
   * @default {"127.0.0.1"}
   */
  host: string;
  /**
   * TCP port; 0 picks an ephemeral one.
   * @default {7420}
   */
  port: number;
  /**
   * This node's id, reported in Welcome frames; random when empty.
   * @default {""}
   */
  nodeId: string;
}

/** How the node runs its listeners, logs and stops. */
export interface RunOptions {
  /**
   * How long shutdown waits for queues to drain.
   * @default {5000}
   */
  shutdownGraceMs: number;
  /**
   * Seconds of silence before the node pings and then drops a WebSocket.
   * @default {60}
   */
  idleTimeoutSeconds: number;
  /**
   * WebSocket server: `arqon` reads connections on demand (fair under floods), `deno` is
   * Deno's built-in.
   * @default {"arqon"}
   */
  wsEngine: "arqon" | "deno";
  /**
   * Log level: `info` or `quiet`.
   * @default {"info"}
   */
  log: "info" | "quiet";
  /**
   * Log line format: `text` or `json` (one JSON object per line on stderr).
   * @default {"text"}
   */
  logFormat: "text" | "json";
  /**
   * Lowest level written (`--log quiet` still keeps only errors).
   * @default {"info"}
   */
  logLevel: "debug" | "info" | "warn" | "error";
  /**
   * OTLP/HTTP collector base URL for pulse spans (e.g. `http://127.0.0.1:4318`); empty: off.
   * @default {""}
   */
  otelEndpoint: string;
  /**
   * Share of new traces exported, 0 to 1 (pulses with a sampled `traceparent` always are).
   * @default {"1.0"}
   */
  otelSample: string;
}

/** The shared-memory listener for local processes. */
export interface ShmOptions {
  /**
   * Shared-memory name (`/dev/shm/<name>`) local processes connect to; empty: off.
   * @default {""}
   */
  shm: string;
  /**
   * Connections the shm listener holds.
   * @default {4}
   */
  shmSlots: number;
  /**
   * Data bytes per shm ring (power of two); the largest shm frame is half of it.
   * @default {4194304}
   */
  shmRingBytes: number;
}

/**
 * Everything a node can be configured with: each layer's options (security options:
 * `shield/auth/security_options.ts`; policy limits: `casil/config.ts`).
 */
export interface NodeConfig
  extends
    ListenOptions,
    ShieldOptions,
    SpineNodeOptions,
    RunOptions,
    StoreDiskOptions,
    ClusterOptions,
    ShmOptions,
    MqttOptions,
    TcpOptions,
    SecurityOptions,
    PolicyOptions,
    OperatorOptions,
    PresenceOptions,
    A2aOptions {}

const LISTEN_FLAGS: readonly Flag<keyof ListenOptions>[] = [
  { key: "host", flag: "host", kind: "string", env: "ARQON_HOST", help: "address to listen on" },
  { key: "port", flag: "port", kind: "int", env: "ARQON_PORT", help: "TCP port (0: ephemeral)" },
  { key: "nodeId", flag: "node-id", kind: "string", env: "ARQON_NODE_ID", help: "node id" },
];

const RUN_FLAGS: readonly Flag<keyof RunOptions>[] = [
  {
    key: "shutdownGraceMs",
    flag: "shutdown-grace-ms",
    kind: "int",
    help: "time shutdown waits for queues to drain",
  },
  {
    key: "idleTimeoutSeconds",
    flag: "idle-timeout",
    kind: "int",
    help: "seconds before an idle WebSocket or TCP connection is pinged and dropped",
  },
  {
    key: "wsEngine",
    flag: "ws-engine",
    kind: "enum",
    env: "ARQON_WS_ENGINE",
    choices: ["arqon", "deno"],
    help: "WebSocket server: arqon reads sockets on demand (fair under floods); deno is built in",
  },
  { key: "log", flag: "log", kind: "enum", choices: ["info", "quiet"], help: "log level" },
  {
    key: "logFormat",
    flag: "log-format",
    kind: "enum",
    env: "ARQON_LOG_FORMAT",
    choices: ["text", "json"],
    help: "log lines as text, or as one JSON object per line on stderr (json)",
  },
  {
    key: "logLevel",
    flag: "log-level",
    kind: "enum",
    env: "ARQON_LOG_LEVEL",
    choices: ["debug", "info", "warn", "error"],
    help: "lowest log level written (--log quiet keeps only errors)",
  },
  {
    key: "otelEndpoint",
    flag: "otel-endpoint",
    kind: "string",
    env: "ARQON_OTEL_ENDPOINT",
    help: "OTLP/HTTP collector URL for pulse spans, e.g. http://127.0.0.1:4318; empty: off",
  },
  {
    key: "otelSample",
    flag: "otel-sample",
    kind: "string",
    env: "ARQON_OTEL_SAMPLE",
    help: "share of new traces exported, 0 to 1",
  },
];

const SHM_FLAGS: readonly Flag<keyof ShmOptions>[] = [
  {
    key: "shm",
    flag: "shm",
    kind: "string",
    env: "ARQON_SHM",
    help: "shared-memory name local processes connect to (empty: off; needs --allow-ffi)",
  },
  {
    key: "shmSlots",
    flag: "shm-slots",
    kind: "int",
    help: "connections the shm listener holds (1-63)",
  },
  {
    key: "shmRingBytes",
    flag: "shm-ring-bytes",
    kind: "int",
    help: "bytes per shm ring; the largest shm frame is half of it",
  },
];

/** The defaults every node starts from. */
export const DEFAULT_CONFIG: Readonly<NodeConfig> = Object.freeze(
  {
    ...SECURITY_DEFAULTS,
    ...POLICY_DEFAULTS,
    ...OPERATOR_DEFAULTS,
    host: "127.0.0.1",
    port: 7420,
    nodeId: "",
    ...SHIELD_DEFAULTS,
    ...SPINE_DEFAULTS,
    shutdownGraceMs: 5000,
    idleTimeoutSeconds: 60,
    wsEngine: "arqon",
    log: "info",
    ...LOG_DEFAULTS,
    otelEndpoint: "",
    otelSample: "1.0",
    ...STORE_DEFAULTS,
    ...CLUSTER_DEFAULTS,
    shm: "",
    shmSlots: 4,
    shmRingBytes: 4 * 1024 * 1024,
    ...MQTT_DEFAULTS,
    ...TCP_DEFAULTS,
    ...PRESENCE_DEFAULTS,
    ...A2A_DEFAULTS,
  } as const,
);

/**
 * Every option of the node as a flag, concatenated from the layers (frozen). The order is
 * the order of `--help`, kept as it was when one file held them all.
 */
export const NODE_FLAGS: readonly Flag<keyof NodeConfig>[] = Object.freeze([
  ...LISTEN_FLAGS,
  ...SHIELD_LIMIT_FLAGS,
  ...SPINE_FLAGS,
  ...SHIELD_FLOW_FLAGS,
  ...RUN_FLAGS,
  ...STORE_FLAGS,
  ...CLUSTER_FLAGS,
  ...SHM_FLAGS,
  ...MQTT_FLAGS,
  ...TCP_FLAGS,
  ...SECURITY_FLAGS,
  ...POLICY_FLAGS,
  ...OPERATOR_FLAGS,
  ...PRESENCE_FLAGS,
  ...A2A_FLAGS,
]);
