/**
 * The node's parts below its edge, opened in dependency order: the cluster connection,
 * the store, the Spine (and its cluster fabric), the audit log, control parameters,
 * cluster governance, the sandbox engine, CASIL, operators and circuits.
 * @module
 */
import { type CasilNode, openCasil } from "../../casil/mod.ts";
import { CircuitHost, OperatorHost, registerOperatorMetrics } from "../../operators/mod.ts";
import { type ClusterConnection, connectCluster, JetStreamFabric } from "../cluster/mod.ts";
import { Engine } from "../sandbox/mod.ts";
import type { NodeAccess } from "../shield/auth/mod.ts";
import { ControlParams, Spine } from "../spine/mod.ts";
import { type DurableLog, openStore, registerStoreMetrics } from "../store/mod.ts";
import { loadPayloadCipher } from "../store/crypto/mod.ts";
import { AuditLog, type Logger, type NodeMetrics, PulseTracer } from "../telemetry/mod.ts";
import type { NodeConfig } from "./config.ts";
import { NodeGovernance } from "./governance.ts";

/** What opening the parts needs. */
export interface PartsContext {
  readonly config: NodeConfig;
  readonly nodeId: string;
  /** The data directory, or null for a node kept in memory. */
  readonly dataDir: string | null;
  readonly metrics: NodeMetrics;
  readonly access: NodeAccess;
  readonly logger: Logger;
}

/** The node's opened parts. */
export interface NodeParts {
  /** The NATS JetStream connection of a cluster node, or null when embedded. */
  readonly cluster: ClusterConnection | null;
  readonly store: DurableLog;
  readonly spine: Spine;
  /** Realities on JetStream streams (a cluster node), or null. */
  readonly fabric: JetStreamFabric | null;
  readonly audit: AuditLog;
  readonly control: ControlParams;
  /** Cluster governance (KV), or null when embedded. */
  readonly governance: NodeGovernance | null;
  /** The node's one sandbox engine, shared by every Wasm host. */
  readonly sandbox: Engine;
  readonly casil: CasilNode;
  readonly operators: OperatorHost;
  readonly circuits: CircuitHost;
}

/** Opens every part and applies the cluster's current governance before anyone is served. */
export async function openParts(ctx: PartsContext): Promise<NodeParts> {
  const { config, nodeId, dataDir, metrics, access, logger } = ctx;
  // `--cluster`: one NATS connection for every cluster part of the node; no server
  // answering stops the node before it opens anything else.
  const cluster = config.cluster
    ? await connectCluster({ ...config, name: `arqon-${nodeId}` })
    : null;
  if (cluster && config.log !== "quiet") {
    console.log(
      `arqon: cluster node on NATS ${cluster.servers.join(",")} ` +
        `(${cluster.clusterSize} servers, streams R${cluster.replicas})`,
    );
  }
  // Opened first: a damaged or busy data directory stops the node before it listens.
  const store = openStore({
    dataDir,
    sync: config.sync,
    maxBytes: config.maxStoreBytes || undefined,
    // Encryption at rest: --key-file, else ARQON_STORE_KEYS / ARQON_STORE_KEY, else clear.
    cipher: await loadPayloadCipher(config.keyFile || undefined),
  });
  registerStoreMetrics(store, metrics.registry);
  const spine = new Spine({
    log: store,
    metrics,
    maxRealities: config.maxRealities,
    vclock: config.vclock !== "off",
    presenceMaxMembers: config.presenceMaxMembers,
    anycast: {
      maxPerSubscription: config.anycastMaxPerSubscription,
      maxPerReality: config.anycastMaxPerReality,
      exactMax: config.anycastExactMax,
    },
    queue: {
      maxMessages: config.queueMessages,
      maxBytes: config.queueBytes,
      overflow: config.overflow,
    },
  });
  // A cluster node: realities live on JetStream streams, which sequence every pulse and
  // bring it back to every node in order (runtime/cluster/fabric.ts).
  const fabric = cluster
    ? new JetStreamFabric(cluster, {
      onError: (what, err) => logger.error("error", { what: `cluster: ${what}`, error: err }),
      kept: {
        list: () => store.listRealities().map((r) => r.name),
        has: (id) => store.getReality(id) !== undefined,
        stores: (id) => (store.getReality(id)?.config.retention.length ?? 0) > 0,
      },
    })
    : null;
  if (fabric) await fabric.attach(spine);
  // A reality's anycast dimension: its own setting (limits.anycastDim), else the node's.
  spine.anycast.dimension = (r) =>
    store.getReality(r)?.config.limits.anycastDim || config.anycastDim;
  // Pulse spans over OTLP/HTTP only when asked: without an endpoint no tracer exists.
  spine.tracer = PulseTracer.create({
    endpoint: config.otelEndpoint,
    sampleRatio: sampleRatio(config.otelSample),
    nodeId,
  });
  // One hash-chained log for every governance action: policy changes, token issues,
  // kicks and sys.control.* publishes.
  const audit = AuditLog.open({ path: dataDir ? `${dataDir}/audit/audit.jsonl` : null });
  // Control parameters: checked in the Spine's publish path (every transport, operator
  // outputs too), kept in the store, and audited on every change: no option turns that off.
  const control = new ControlParams({
    audit,
    store,
    maxParams: config.controlMaxParams,
    maxBytes: config.controlMaxBytes,
    onLimit: (limit) => metrics.limitHits.labels(limit).inc(),
  });
  spine.setControl(control);
  // Cluster governance (policies, parameters, bans, revocations in KV): opened before the
  // registries, whose local changes it shares.
  const governance = cluster
    ? await NodeGovernance.open({
      nc: cluster.nc,
      nodeId,
      replicas: cluster.replicas,
      maxKeysPerKind: config.clusterGovernanceMaxKeys,
      maxValueBytes: config.clusterGovernanceMaxRecordBytes,
      auditMaxPending: config.clusterAuditMaxPending,
      onLimit: (limit) => metrics.limitHits.labels(limit).inc(),
      logger,
      store,
      fabric: fabric ?? undefined,
    })
    : null;
  // One sandbox engine per node (module cache, instrumenting worker), shared by every Wasm
  // host of the node; closed at shutdown.
  const sandbox = new Engine({ worker: true });
  // CASIL: every publish passes the policy chain of its reality and topic (fail-closed).
  const casil = await openCasil({
    policyFuel: config.policyFuel,
    policyMemoryPages: config.policyMemoryPages,
    policyMaxUploadBytes: config.policyMaxUploadBytes,
    maxPayloadBytes: config.maxFrameBytes,
    sandbox,
    dataDir,
    audit,
    registry: metrics.registry,
    log: config.log,
    logger,
    principalOf: async (authorization) => (await access.http(authorization)).principal,
    authRequired: access.required,
    setGuard: (guard) => spine.setGuard(guard),
    replicate: governance?.replicatePolicy,
    auditView: governance?.auditView,
  });
  access.setAudit(audit);
  // Installs, replacements and removals of policies and operators, as the audit records them.
  audit.onAppend((e) => {
    if (e.action.startsWith("policy.") || e.action.startsWith("operator.")) {
      logger.info(e.action, { actor: e.actor, ...e.details });
    }
    // A cluster node also writes each entry to the cluster's one chain.
    governance?.audit.append(e);
  });
  // Tier-Ω operators: each runs in its own Worker; the node's engine checks components.
  const operators = new OperatorHost({
    ...config,
    spine,
    // A cluster node mirrors each state commit to the cluster, for a node taking over.
    store: governance?.operatorState ?? store,
    engine: sandbox,
    control,
    dir: dataDir ? `${dataDir}/operators` : null,
    audit,
    log: (level, message) => logger.log(level, "operator", { message }),
    // A cluster node shares installs and runs an operator only while it holds its lease.
    replicate: governance?.replicateOperator,
    mayRun: governance?.mayRun,
    beforeRun: governance?.beforeRun,
  });
  registerOperatorMetrics(metrics, operators);
  await operators.load();
  // Circuits: typed pipelines of operators (operators/circuits), back after the operators.
  const circuits = new CircuitHost({
    operators,
    spine,
    dir: dataDir ? `${dataDir}/circuits` : null,
    audit,
    log: (level, message) => logger.log(level, "circuit", { message }),
    replicate: governance?.replicateCircuit,
  });
  await circuits.load();
  // The cluster's current governance, applied before the node serves anyone.
  await governance?.start({
    policies: casil.engine,
    control,
    spine,
    access,
    operators,
    circuits,
  });
  return {
    cluster,
    store,
    spine,
    fabric,
    audit,
    control,
    governance,
    sandbox,
    casil,
    operators,
    circuits,
  };
}

/** `--otel-sample` as a ratio; anything but a number from 0 to 1 stops the node at start. */
function sampleRatio(text: string): number {
  const ratio = Number(text);
  if (text.trim() === "" || !Number.isFinite(ratio) || ratio < 0 || ratio > 1) {
    throw new Error(`--otel-sample must be a number from 0 to 1, not "${text}"`);
  }
  return ratio;
}
