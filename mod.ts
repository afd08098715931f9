/**
 * ArqonBus: a message bus for AI agents, services and devices.
 *
 * As a library: `startNode` embeds a node, `ArqonClient` talks to one, `openStore` opens
 * a durable log on its own. As a program: `deno run -A mod.ts [flags]` (or
 * `deno task start`) runs a node on 127.0.0.1:7420; `--help` lists every flag.
 *
 * @example Embed a node and talk to it
 * ```ts
 * import { ArqonClient, startNode } from "@arqon/bus";
 *
 * const node = await startNode({ port: 0, memory: true, log: "quiet" });
 * const client = await ArqonClient.connect(node.wsUrl);
 * const ack = await client.publish("greetings.hello", "hi");
 * console.log(ack?.sequence); // 1
 * await client.close();
 * await node.shutdown();
 * ```
 * @module
 */
export {
  type ArqonNode,
  DEFAULT_CONFIG,
  helpText,
  NODE_FLAGS,
  type NodeConfig,
  parseConfig,
  startNode,
} from "./runtime/node/mod.ts";
export * from "./runtime/client/mod.ts";
export * from "./runtime/protocol/mod.ts";
export type { EncodedMessage, Transport, TransportSession } from "./runtime/transport/mod.ts";
export { openStore, type StoreOptions } from "./runtime/store/mod.ts";

// The types the public API above names (node members, config parts, store records), so
// the documentation is complete; types only: they are built by `startNode`/`openStore`.
export type {
  ConnectionCapacity,
  Flag,
  FlagKind,
  ListenOptions,
  MqttOptions,
  OpenFileLimit,
  OperatorOptions,
  ParsedConfig,
  PolicyOptions,
  RunOptions,
  SecurityOptions,
  ShieldFlowOptions,
  ShieldLimitOptions,
  ShieldOptions,
  ShmOptions,
  SpineAnycastOptions,
  SpineLimitOptions,
  SpineNodeOptions,
  SpineQueueOptions,
  SpineTimeOptions,
  StoreDiskOptions,
  TcpOptions,
} from "./runtime/node/mod.ts";
export type {
  AgentCard,
  AgentDirectory,
  AgentKind,
  AgentView,
  AnycastChoice,
  AnycastInput,
  AnycastLimits,
  AnycastQuery,
  AnycastRegistry,
  AnycastTarget,
  CommitObserver,
  CompiledCard,
  ControlAuditSink,
  ControlListener,
  ControlParams,
  ControlParamsOptions,
  ControlParamStore,
  DurableLog,
  FabricSubscription,
  GuardVerdict,
  HistogramView,
  HistoryQuery,
  IndexHit,
  IndexHits,
  JsonSchema,
  LaneName,
  LaneRule,
  LaneRules,
  OperatorStateStore,
  OverflowMode,
  ParamSet,
  PayloadCheck,
  PayloadEncoding,
  PendingInboxes,
  PulseFabric,
  PulseGuard,
  PulseLog,
  Reality,
  RealityConfig,
  RealityConfigInput,
  RealityInfo,
  RealityStats,
  RetentionRule,
  Route,
  RouteLike,
  Spine,
  SpineAnycast,
  StampedPulse,
  StoredParamSet,
  StoredPulse,
  StoreStats,
  SubscribeInput,
  Subscription,
  SubscriptionOwner,
  SubscriptionSpec,
  VectorIndex,
  VectorIndexOptions,
} from "./runtime/spine/mod.ts";
export type { A2aOptions, PresenceOptions } from "./runtime/node/mod.ts";
export type {
  PresenceBoard,
  PresenceEmit,
  PresenceEvent,
  PresenceIdentity,
  PresenceKind,
  PresenceMember,
} from "./runtime/spine/mod.ts";
export type { PayloadCipher, SyncPolicy } from "./runtime/store/mod.ts";
export type { ClusterOptions } from "./runtime/cluster/mod.ts";
export type {
  AuditEntry,
  AuditLog,
  AuditVerification,
  NodeMetrics,
  PulseSpan,
  PulseTracer,
  TraceCarrier,
  TracingOptions,
} from "./runtime/telemetry/mod.ts";
export type { AgentIdentity, DidAlgorithm } from "./runtime/identity/mod.ts";
export type { SandboxLimits } from "./runtime/sandbox/mod.ts";
export type {
  CasilMetrics,
  DenialReason,
  PolicyBinding,
  PolicyEngine,
  PolicyGuard,
  PolicyRecord,
  PolicyStats,
  PutPolicyOptions,
} from "./casil/mod.ts";

import { resolve } from "node:path";
import { capacityLine, parseConfig, startNode } from "./runtime/node/mod.ts";

/** Runs a node from the command line until SIGINT/SIGTERM, then drains and exits. */
async function main(): Promise<void> {
  const t0 = performance.now();
  let parsed;
  try {
    parsed = parseConfig(Deno.args);
  } catch (err) {
    console.error(`arqon: ${(err as Error).message}\nRun with --help to list the flags.`);
    Deno.exit(2);
  }
  if (parsed.help) {
    console.log(parsed.text);
    return;
  }
  let node;
  try {
    node = await startNode(parsed.config);
  } catch (err) {
    console.error(`arqon: ${(err as Error).message}`);
    Deno.exit(1);
  }
  if (parsed.config.log !== "quiet") {
    if (node.mqttUrl) console.log(`arqon: mqtt listening on ${node.mqttUrl}`);
    if (node.tcpUrl) console.log(`arqon: raw tcp listening on ${node.tcpUrl}`);
    console.log(
      `arqon: node ${node.nodeId} ready on ${node.url} (ws ${node.wsUrl}) in ${
        (performance.now() - t0).toFixed(0)
      } ms`,
    );
    console.log(capacityLine(node.capacity, parsed.config.wsEngine));
    // Say where data goes, so nobody is surprised by a ./data directory (or by losing it).
    console.log(
      parsed.config.memory
        ? "arqon: data kept in memory only (--memory): gone when the node stops"
        : `arqon: data in ${
          resolve(parsed.config.dataDir)
        } (durable log, audit; --data-dir to move, --memory for none)`,
    );
  }
  let stopping = false;
  const stop = () => {
    // `deno task` forwards the signal too, so one stop may arrive twice.
    if (stopping) return;
    stopping = true;
    if (parsed.config.log !== "quiet") console.log("arqon: shutting down, draining queues");
    node.shutdown().then(() => Deno.exit(0));
  };
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
  await node.finished;
}

if (import.meta.main) await main();
