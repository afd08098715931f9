/**
 * The cluster's node options: which NATS servers the node joins, with which credentials
 * and TLS files, and how many replicas its streams keep. Each has a flag; an empty
 * `--cluster` keeps the embedded single node (the default, unchanged).
 * @module
 */
import type { Flag } from "../config/mod.ts";

/** How a node joins a NATS JetStream cluster; every option has a flag (see `CLUSTER_FLAGS`). */
export interface ClusterOptions {
  /**
   * NATS server URLs, comma-separated (`nats://h1:4222,nats://h2:4222`); empty: embedded
   * single node.
   * @default {""}
   */
  cluster: string;
  /**
   * A NATS credentials file (`.creds`: user JWT and NKey seed); empty: none.
   * @default {""}
   */
  clusterCreds: string;
  /**
   * PEM file of the CA that signs the NATS servers' certificates; empty: system roots.
   * @default {""}
   */
  clusterTlsCa: string;
  /**
   * PEM client certificate presented to NATS (with `clusterTlsKey`); empty: none.
   * @default {""}
   */
  clusterTlsCert: string;
  /**
   * PEM private key of `clusterTlsCert`; empty: none.
   * @default {""}
   */
  clusterTlsKey: string;
  /**
   * Replicas of each reality's stream (1-5); 0 picks 3 when the NATS cluster has at least
   * 3 servers, else 1.
   * @default {0}
   */
  clusterReplicas: number;
  /**
   * Replicas of the streams of fire-and-forget realities (1-5): realities the node that
   * creates the stream knows no retention rule of. 0: as `clusterReplicas`. Fewer replicas
   * cost the NATS servers less per pulse; what each setting risks: docs/cluster.md.
   * @default {0}
   */
  clusterFireAndForgetReplicas: number;
  /**
   * Most governance records of one kind (policies, parameter sets, bans, revocations,
   * operators, circuits) in the cluster's KV bucket; past it a new one is refused with
   * `QUOTA_EXCEEDED` (bans first drop expired ones).
   * @default {10000}
   */
  clusterGovernanceMaxKeys: number;
  /**
   * Largest governance record (bytes of JSON) in the cluster's KV bucket; past it the change
   * is refused with `FRAME_TOO_LARGE` before anything is written.
   * @default {262144}
   */
  clusterGovernanceMaxRecordBytes: number;
  /**
   * Audit entries a node keeps waiting for the cluster's chain (`ARQON_AUDIT`) while NATS
   * is away; past it the newest are dropped and counted.
   * @default {10000}
   */
  clusterAuditMaxPending: number;
}

/** Defaults of {@linkcode ClusterOptions}: no cluster. */
export const CLUSTER_DEFAULTS: Readonly<ClusterOptions> = Object.freeze({
  cluster: "",
  clusterCreds: "",
  clusterTlsCa: "",
  clusterTlsCert: "",
  clusterTlsKey: "",
  clusterReplicas: 0,
  clusterFireAndForgetReplicas: 0,
  clusterGovernanceMaxKeys: 10_000,
  clusterGovernanceMaxRecordBytes: 256 << 10,
  clusterAuditMaxPending: 10_000,
});

/** The cluster's options as flags, in `--help` order; the node adds them to its table. */
export const CLUSTER_FLAGS: readonly Flag<keyof ClusterOptions>[] = Object.freeze([
  {
    key: "cluster",
    flag: "cluster",
    kind: "string",
    env: "ARQON_CLUSTER",
    repeatable: true,
    help: "NATS JetStream servers to run as a cluster node, e.g. nats://h1:4222,nats://h2:4222",
  },
  {
    key: "clusterCreds",
    flag: "cluster-creds",
    kind: "string",
    env: "ARQON_CLUSTER_CREDS",
    help: "NATS credentials file (.creds) for --cluster",
  },
  {
    key: "clusterTlsCa",
    flag: "cluster-tls-ca",
    kind: "string",
    help: "PEM CA file that signs the NATS servers' certificates",
  },
  {
    key: "clusterTlsCert",
    flag: "cluster-tls-cert",
    kind: "string",
    help: "PEM client certificate presented to NATS (with --cluster-tls-key)",
  },
  {
    key: "clusterTlsKey",
    flag: "cluster-tls-key",
    kind: "string",
    help: "PEM private key of --cluster-tls-cert",
  },
  {
    key: "clusterReplicas",
    flag: "cluster-replicas",
    kind: "int",
    help: "replicas of each reality's stream, 1-5 (0: 3 when NATS has 3+ servers, else 1)",
  },
  {
    key: "clusterFireAndForgetReplicas",
    flag: "cluster-fire-and-forget-replicas",
    kind: "int",
    help:
      "replicas of the streams of realities without retention rules, 1-5 (0: --cluster-replicas)",
  },
  {
    key: "clusterGovernanceMaxKeys",
    flag: "cluster-governance-max-keys",
    kind: "int",
    help: "most governance records of one kind in the cluster (past it: QUOTA_EXCEEDED)",
  },
  {
    key: "clusterGovernanceMaxRecordBytes",
    flag: "cluster-governance-max-record-bytes",
    kind: "int",
    help: "largest governance record in the cluster, bytes of JSON (past it: FRAME_TOO_LARGE)",
  },
  {
    key: "clusterAuditMaxPending",
    flag: "cluster-audit-max-pending",
    kind: "int",
    help: "audit entries kept for the cluster's chain while NATS is away (past it: dropped)",
  },
]);
