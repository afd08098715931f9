/**
 * Opens the node's one NATS connection for `--cluster`: servers, credentials, TLS, and
 * the JetStream client and manager every cluster part (realities on streams, governance
 * in KV and object stores, leases) shares. No consensus of our own: NATS JetStream
 * replicates; this file only connects and watches whether the connection is up.
 * @module
 */
import { connect, credsAuthenticator, type NatsConnection } from "@nats-io/transport-node";
import {
  jetstream,
  type JetStreamClient,
  type JetStreamManager,
  jetstreamManager,
} from "@nats-io/jetstream";
import type { ClusterOptions } from "./options.ts";
import { connectDenoTcp } from "./deno_transport.ts";

/** The node's cluster connection, shared by every cluster part of the node. */
export interface ClusterConnection {
  /** The NATS connection (reconnects by itself to any server of `servers`). */
  readonly nc: NatsConnection;
  /** JetStream publishes and consumers. */
  readonly js: JetStreamClient;
  /** JetStream streams and consumers management. */
  readonly jsm: JetStreamManager;
  /** Replicas of each stream the node creates (`--cluster-replicas`, or derived). */
  readonly replicas: number;
  /**
   * Replicas of the streams it creates for fire-and-forget realities (no retention rule
   * known here): `--cluster-fire-and-forget-replicas`, else `replicas`.
   */
  readonly fireAndForgetReplicas: number;
  /** The server URLs given (`--cluster`). */
  readonly servers: readonly string[];
  /** Servers of the NATS cluster the node saw at connect (itself and the ones it advertises). */
  readonly clusterSize: number;
  /** Whether the connection is up now (false between a disconnect and the reconnect). */
  readonly connected: boolean;
  /** Calls `listener` on each change of `connected`; returns the unsubscribe. */
  onAvailability(listener: (connected: boolean) => void): () => void;
  /** Drains and closes the connection. */
  close(): Promise<void>;
}

/** Whether a connection of this process was opened with TLS files (see `connectCluster`). */
let tlsFilesUsed = false;

/** The servers of a `--cluster` value: comma-separated URLs, blanks dropped. */
export function clusterServers(value: string): string[] {
  return value.split(",").map((s) => s.trim()).filter((s) => s.length > 0);
}

/**
 * Connects to NATS as `--cluster` and friends say, then opens JetStream. Throws when no
 * server answers (the node does not start half-clustered), when the TLS files are
 * incomplete, or when JetStream is not enabled on the server.
 *
 * @example
 * ```ts ignore
 * import { connectCluster } from "./connect.ts";
 *
 * const cluster = await connectCluster({ cluster: "nats://127.0.0.1:4222", clusterReplicas: 0 });
 * console.log(cluster.replicas); // 3 on a 3-server NATS cluster, else 1
 * await cluster.close();
 * ```
 */
export async function connectCluster(
  options: Partial<ClusterOptions> & { cluster: string; name?: string },
): Promise<ClusterConnection> {
  const servers = clusterServers(options.cluster);
  if (servers.length === 0) throw new Error("--cluster needs at least one nats:// URL");
  const replicasWanted = options.clusterReplicas ?? 0;
  if (!Number.isInteger(replicasWanted) || replicasWanted < 0 || replicasWanted > 5) {
    throw new Error(`--cluster-replicas must be 0 to 5, not ${replicasWanted}`);
  }
  const fireAndForgetWanted = options.clusterFireAndForgetReplicas ?? 0;
  if (
    !Number.isInteger(fireAndForgetWanted) || fireAndForgetWanted < 0 || fireAndForgetWanted > 5
  ) {
    throw new Error(
      `--cluster-fire-and-forget-replicas must be 0 to 5, not ${fireAndForgetWanted}`,
    );
  }
  if (Boolean(options.clusterTlsCert) !== Boolean(options.clusterTlsKey)) {
    throw new Error("--cluster-tls-cert and --cluster-tls-key go together");
  }
  const tlsOn = Boolean(options.clusterTlsCa || options.clusterTlsCert);
  const authenticator = options.clusterCreds
    ? credsAuthenticator(await Deno.readFile(options.clusterCreds))
    : undefined;
  // Without TLS files, the NATS socket is Deno's own TCP (deno_transport.ts: about 1 µs less
  // CPU per message than node:net's emulation); with them, node:net's TLS (client certificates).
  // nats.js keeps one transport factory per process, read at every reconnect: once a
  // connection with TLS files exists here, later ones stay on node:net too, so that its
  // reconnects never get a transport without its TLS.
  if (tlsOn) tlsFilesUsed = true;
  const open = tlsFilesUsed ? connect : connectDenoTcp;
  const nc = await open({
    servers,
    name: options.name ?? "arqon",
    authenticator,
    tls: tlsOn
      ? {
        ...(options.clusterTlsCa ? { caFile: options.clusterTlsCa } : {}),
        ...(options.clusterTlsCert
          ? { certFile: options.clusterTlsCert, keyFile: options.clusterTlsKey }
          : {}),
      }
      : undefined,
    // A node never gives up on its cluster: it refuses durable work while away and comes
    // back by itself (reconnecting to whichever server answers first).
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    reconnectJitter: 100,
    pingInterval: 2_000,
    maxPingOut: 2,
  });
  try {
    const jsm = await jetstreamManager(nc);
    // Fails clearly when JetStream is off on the server the node reached.
    await jsm.getAccountInfo();
    const js = jetstream(nc);
    // Servers advertise every client URL of their NATS cluster (connect_urls).
    const clusterSize = Math.max(1, nc.info?.connect_urls?.length ?? 0, servers.length);
    const replicas = replicasWanted > 0 ? replicasWanted : clusterSize >= 3 ? 3 : 1;
    const fireAndForget = fireAndForgetWanted > 0 ? fireAndForgetWanted : replicas;
    return new Connection(nc, js, jsm, replicas, fireAndForget, servers, clusterSize);
  } catch (err) {
    await nc.close().catch(() => {});
    throw new Error(`--cluster: JetStream unavailable: ${(err as Error).message}`);
  }
}

class Connection implements ClusterConnection {
  #connected = true;
  #listeners = new Set<(connected: boolean) => void>();

  constructor(
    readonly nc: NatsConnection,
    readonly js: JetStreamClient,
    readonly jsm: JetStreamManager,
    readonly replicas: number,
    readonly fireAndForgetReplicas: number,
    readonly servers: readonly string[],
    readonly clusterSize: number,
  ) {
    void this.#watch();
  }

  get connected(): boolean {
    return this.#connected && !this.nc.isClosed();
  }

  onAvailability(listener: (connected: boolean) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async close(): Promise<void> {
    if (this.nc.isClosed()) return;
    await this.nc.drain().catch(() => this.nc.close());
  }

  async #watch(): Promise<void> {
    for await (const s of this.nc.status()) {
      if (s.type === "disconnect") this.#set(false);
      else if (s.type === "reconnect") this.#set(true);
      else if (s.type === "close") {
        this.#set(false);
        return;
      }
    }
  }

  #set(connected: boolean): void {
    if (this.#connected === connected) return;
    this.#connected = connected;
    for (const l of this.#listeners) l(connected);
  }
}
