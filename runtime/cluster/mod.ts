/**
 * The cluster layer: a node on NATS JetStream (`--cluster`). Its one connection, its
 * options and flags; the node wires it (runtime/node/parts.ts).
 * @module
 */
export { CLUSTER_DEFAULTS, CLUSTER_FLAGS, type ClusterOptions } from "./options.ts";
export { type ClusterConnection, clusterServers, connectCluster } from "./connect.ts";
export { type FabricOptions, JetStreamFabric, type KeptRealities } from "./fabric.ts";
export { groupConsumer, pulseSubject, realityStream } from "./subjects.ts";
