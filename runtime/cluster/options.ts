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
}

/** Defaults of {@linkcode ClusterOptions}: no cluster. */
export const CLUSTER_DEFAULTS: Readonly<ClusterOptions> = Object.freeze({
  cluster: "",
  clusterCreds: "",
  clusterTlsCa: "",
  clusterTlsCert: "",
  clusterTlsKey: "",
  clusterReplicas: 0,
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
]);
