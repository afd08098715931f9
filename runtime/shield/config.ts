/**
 * Node configuration: defaults, a JSON config file, `ARQON_*` environment variables and
 * command-line flags, in increasing precedence. The flag table is the single source of
 * every option, so `--help` lists them all.
 * @module
 */
import { parseArgs } from "node:util";
import type { OverflowMode } from "../spine/mod.ts";
import { SECURITY_DEFAULTS, SECURITY_FLAGS, type SecurityOptions } from "./auth/mod.ts";
import { POLICY_DEFAULTS, POLICY_FLAGS, type PolicyOptions } from "../../casil/config.ts";

/** Everything a node can be configured with (security options: `auth/security_options.ts`). */
export interface NodeConfig extends SecurityOptions, PolicyOptions {
  /** Address to listen on. */
  host: string;
  /** TCP port; 0 picks an ephemeral one. */
  port: number;
  /** This node's id, reported in Welcome frames; random when empty. */
  nodeId: string;
  /** Largest accepted WebSocket frame. */
  maxFrameBytes: number;
  /** Largest accepted HTTP request body. */
  maxHttpBodyBytes: number;
  /** Subscriptions one connection may hold. */
  maxSubscriptionsPerConnection: number;
  /** Default bound on deliveries waiting per subscription. */
  queueMessages: number;
  /** Default bound on bytes waiting per subscription. */
  queueBytes: number;
  /** Default overflow policy of subscriptions. */
  overflow: OverflowMode;
  /** Socket-buffered bytes above which the node stops writing to a connection. */
  highWaterBytes: number;
  /** Target size of one outbound batch message. */
  maxBatchBytes: number;
  /** Microseconds of work a reality may run per event-loop turn before its work queues (0: no fair queueing). */
  fairQuantumUs: number;
  /** Bytes a reality may have queued before its further publishes are shed (RATE_LIMITED). */
  realityQueueBytes: number;
  /** Default request/reply timeout. */
  requestTimeoutMs: number;
  /** How long shutdown waits for queues to drain. */
  shutdownGraceMs: number;
  /** Seconds of silence before the node pings and then drops a WebSocket. */
  idleTimeoutSeconds: number;
  /** WebSocket server: `arqon` reads connections on demand (fair under floods), `deno` is Deno's built-in. */
  wsEngine: "arqon" | "deno";
  /** Log level: `info` or `quiet`. */
  log: "info" | "quiet";
  /** Directory of the durable log; empty keeps it in memory (the CLI defaults to `./data`). */
  dataDir: string;
  /** Keep the log in memory even when `dataDir` is set. */
  memory: boolean;
  /** When commits reach the disk: `always`, `batch` (group commit) or `os`. */
  sync: "always" | "batch" | "os";
  /** Largest size of the durable log's database in bytes (0: unlimited); beyond it publishes fail with STORAGE_FAILED. */
  maxStoreBytes: number;
  /** Shared-memory name (`/dev/shm/<name>`) local processes connect to; empty: off. */
  shm: string;
  /** Connections the shm listener holds. */
  shmSlots: number;
  /** Data bytes per shm ring (power of two); the largest shm frame is half of it. */
  shmRingBytes: number;
}

/** The defaults every node starts from. */
export const DEFAULT_CONFIG: Readonly<NodeConfig> = {
  ...SECURITY_DEFAULTS,
  ...POLICY_DEFAULTS,
  host: "127.0.0.1",
  port: 7420,
  nodeId: "",
  maxFrameBytes: 1024 * 1024,
  maxHttpBodyBytes: 1024 * 1024,
  maxSubscriptionsPerConnection: 1024,
  queueMessages: 65_536,
  queueBytes: 64 * 1024 * 1024,
  overflow: "drop-oldest",
  highWaterBytes: 4 * 1024 * 1024,
  maxBatchBytes: 256 * 1024,
  fairQuantumUs: 0,
  realityQueueBytes: 16 * 1024 * 1024,
  requestTimeoutMs: 5000,
  shutdownGraceMs: 5000,
  idleTimeoutSeconds: 60,
  wsEngine: "arqon",
  log: "info",
  dataDir: "",
  memory: false,
  sync: "batch",
  maxStoreBytes: 0,
  shm: "",
  shmSlots: 4,
  shmRingBytes: 4 * 1024 * 1024,
};

type Kind = "string" | "int" | "enum" | "bool";
interface Flag {
  readonly key: keyof NodeConfig;
  readonly flag: string;
  readonly kind: Kind;
  readonly help: string;
  readonly env?: string;
  readonly choices?: readonly string[];
}

/** Every option, as a flag; other layers append theirs to `NODE_FLAGS` before parsing. */
export const NODE_FLAGS: Flag[] = [
  { key: "host", flag: "host", kind: "string", env: "ARQON_HOST", help: "address to listen on" },
  { key: "port", flag: "port", kind: "int", env: "ARQON_PORT", help: "TCP port (0: ephemeral)" },
  { key: "nodeId", flag: "node-id", kind: "string", env: "ARQON_NODE_ID", help: "node id" },
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
    key: "queueMessages",
    flag: "queue-messages",
    kind: "int",
    help: "default max deliveries queued per subscription",
  },
  {
    key: "queueBytes",
    flag: "queue-bytes",
    kind: "int",
    help: "default max bytes queued per subscription",
  },
  {
    key: "overflow",
    flag: "overflow",
    kind: "enum",
    choices: ["drop-oldest", "drop-new", "disconnect"],
    help: "default overflow policy of subscriber queues",
  },
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
    help: "default request/reply timeout",
  },
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
    help: "seconds before an idle WebSocket is pinged and dropped",
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
    key: "dataDir",
    flag: "data-dir",
    kind: "string",
    env: "ARQON_DATA_DIR",
    help: "directory of the durable log (command line: ./data when unset)",
  },
  { key: "memory", flag: "memory", kind: "bool", help: "keep the log in memory, no disk" },
  {
    key: "sync",
    flag: "sync",
    kind: "enum",
    choices: ["always", "batch", "os"],
    help: "when commits reach the disk: each commit, group commits, or left to the OS",
  },
  {
    key: "maxStoreBytes",
    flag: "max-store-bytes",
    kind: "int",
    help: "cap on the durable log's size; writes beyond fail with STORAGE_FAILED (0: none)",
  },
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
NODE_FLAGS.push(...SECURITY_FLAGS);
NODE_FLAGS.push(...POLICY_FLAGS);

/** What `parseConfig` found: the config, or a request for help. */
export type ParsedConfig = { help: true; text: string } | { help: false; config: NodeConfig };

/** The `--help` text. */
export function helpText(): string {
  const lines = [
    "ArqonBus node",
    "",
    "Usage: deno task start [flags]    (or: deno run -A mod.ts [flags])",
    "",
    "Flags:",
    "  --config <file>".padEnd(34) + "JSON file with any of the options below (camelCase keys)",
    "  --help".padEnd(34) + "print this help",
  ];
  for (const f of NODE_FLAGS) {
    const arg = f.kind === "enum"
      ? `<${f.choices!.join("|")}>`
      : f.kind === "int"
      ? "<n>"
      : f.kind === "bool"
      ? ""
      : "<s>";
    const def = DEFAULT_CONFIG[f.key];
    const tail = `${f.help} (default ${JSON.stringify(def)}${f.env ? `; env ${f.env}` : ""})`;
    lines.push(`  --${f.flag} ${arg}`.padEnd(34) + tail);
  }
  return lines.join("\n");
}

function coerce(f: Flag, value: unknown, source: string): unknown {
  if (f.kind === "int") {
    const n = typeof value === "number" ? value : Number(value);
    if (!Number.isInteger(n) || n < 0) {
      throw new Error(`${source}: ${f.flag} must be a non-negative integer, got ${value}`);
    }
    return n;
  }
  if (f.kind === "bool") {
    if (typeof value === "boolean") return value;
    if (["1", "true", "yes"].includes(String(value))) return true;
    if (["0", "false", "no", ""].includes(String(value))) return false;
    throw new Error(`${source}: ${f.flag} must be true or false, got ${value}`);
  }
  if (f.kind === "enum" && !f.choices!.includes(String(value))) {
    throw new Error(`${source}: ${f.flag} must be one of ${f.choices!.join(", ")}, got ${value}`);
  }
  return String(value);
}

/**
 * Builds the config from arguments and environment. Throws `Error` with a readable
 * message on an unknown flag or a bad value.
 */
export function parseConfig(
  args: string[],
  env: (name: string) => string | undefined = (n) => Deno.env.get(n),
): ParsedConfig {
  const options: Record<string, { type: "string" | "boolean" }> = {
    config: { type: "string" },
    help: { type: "boolean" },
  };
  for (const f of NODE_FLAGS) options[f.flag] = { type: f.kind === "bool" ? "boolean" : "string" };
  const { values } = parseArgs({ args, options, strict: true, allowPositionals: false });
  if (values.help) return { help: true, text: helpText() };
  const config: Record<string, unknown> = { ...DEFAULT_CONFIG };
  if (typeof values.config === "string") {
    const file = JSON.parse(Deno.readTextFileSync(values.config)) as Record<string, unknown>;
    for (const [key, value] of Object.entries(file)) {
      const f = NODE_FLAGS.find((x) => x.key === key);
      if (!f) throw new Error(`${values.config}: unknown option '${key}'`);
      config[key] = coerce(f, value, values.config);
    }
  }
  for (const f of NODE_FLAGS) {
    const fromEnv = f.env ? env(f.env) : undefined;
    if (fromEnv !== undefined && fromEnv !== "") config[f.key] = coerce(f, fromEnv, f.env!);
    const fromFlag = values[f.flag];
    if (fromFlag !== undefined) config[f.key] = coerce(f, fromFlag, `--${f.flag}`);
  }
  // The command line keeps a durable log by default; embedders opt in with `dataDir`.
  if (!config.memory && !config.dataDir) config.dataDir = "./data";
  return { help: false, config: config as unknown as NodeConfig };
}
