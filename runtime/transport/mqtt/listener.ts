/**
 * The MQTT listener: accepts TCP connections on `--mqtt-port`, admits each through the
 * node's connection cap, and serves it as an `MqttConnection` on the node's sessions.
 * @module
 */
import type { NodeMetrics } from "../../telemetry/mod.ts";
import type { Transport, TransportSession } from "../transport.ts";
import { MqttConnection } from "./connection.ts";
import type { MqttOptions } from "./options.ts";
import { RetainedStore } from "./retained.ts";

/** The connection cap the listener admits connections through (the node's gate). */
export interface MqttGate {
  /** Admits a connection holding `descriptors`, or names the bound it hits. */
  enter(descriptors: number): string | undefined;
  /** An admitted connection ended. */
  leave(descriptors: number): void;
}

/** What the MQTT listener needs from the node. */
export interface MqttListenerOptions {
  /** Address to listen on (the node's `--host`). */
  readonly host: string;
  /** The listener's options (`mqttPort` 0: ephemeral). */
  readonly options: MqttOptions;
  /** Starts a session on a transport (`ArqonNode.attach`). */
  readonly attach: (transport: Transport, format: "proto") => TransportSession;
  /** The node's metrics. */
  readonly metrics: NodeMetrics;
  /** Bytes a connection may hold for a peer that does not read. */
  readonly maxBufferedBytes: number;
  /** The session's frame limit. */
  readonly maxFrameBytes: number;
  /** Whether the node is shutting down. */
  readonly draining: () => boolean;
  /** The node's connection cap; absent: none. */
  readonly gate?: MqttGate;
}

/** A running MQTT listener. */
export interface MqttListener {
  /** The bound port (resolved when `mqttPort` was 0). */
  readonly port: number;
  /** `mqtt://host:port`. */
  readonly url: string;
  /** The retained messages. */
  readonly retained: RetainedStore;
  /** Stops accepting and closes every connection (sessions release their subscriptions). */
  close(): Promise<void>;
}

/**
 * Starts the MQTT listener.
 *
 * @example
 * ```ts ignore
 * const mqtt = await startMqttListener({ host: "127.0.0.1", options, attach, metrics, ... });
 * console.log(mqtt.url); // mqtt://127.0.0.1:1883
 * await mqtt.close();
 * ```
 */
export function startMqttListener(opts: MqttListenerOptions): MqttListener {
  const listener = Deno.listen({ hostname: opts.host, port: opts.options.mqttPort });
  const retained = new RetainedStore({
    maxMessages: opts.options.mqttRetainedMessages,
    maxBytes: opts.options.mqttRetainedBytes,
  });
  const live = new Set<{ conn: Deno.Conn; connection: MqttConnection }>();
  // The live connection of each client (reality, client id, credentials).
  const owners = new Map<string, MqttConnection>();
  const claim = (key: string, connection: MqttConnection) => {
    const old = owners.get(key);
    owners.set(key, connection);
    if (old && old !== connection) old.takenOver();
  };
  const release = (key: string, connection: MqttConnection) => {
    if (owners.get(key) === connection) owners.delete(key);
  };
  const ctx = {
    options: opts.options,
    attach: opts.attach,
    retained,
    metrics: opts.metrics,
    maxBufferedBytes: opts.maxBufferedBytes,
    maxFrameBytes: opts.maxFrameBytes,
    draining: opts.draining,
    claim,
    release,
  };
  let closing = false;
  const accepting = (async () => {
    while (!closing) {
      let conn: Deno.TcpConn;
      try {
        conn = await listener.accept();
      } catch (err) {
        if (closing || err instanceof Deno.errors.BadResource) return;
        opts.metrics.errors.labels("tcp", "ACCEPT_FAILED").inc();
        await new Promise((r) => setTimeout(r, 50));
        continue;
      }
      const refusal = opts.gate?.enter(1);
      if (refusal) {
        opts.metrics.limitHits.labels(refusal).inc();
        try {
          conn.close();
        } catch { /* gone */ }
        continue;
      }
      try {
        conn.setNoDelay(true);
      } catch { /* not fatal */ }
      const addr = conn.remoteAddr as Deno.NetAddr;
      const connection = new MqttConnection(conn, `${addr.hostname}:${addr.port}`, ctx);
      const entry = { conn, connection };
      live.add(entry);
      connection.run().finally(() => {
        live.delete(entry);
        opts.gate?.leave(1);
      });
    }
  })();
  const addr = listener.addr as Deno.NetAddr;
  const host = addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname;
  return {
    port: addr.port,
    url: `mqtt://${host}:${addr.port}`,
    retained,
    close: async () => {
      closing = true;
      try {
        listener.close();
      } catch { /* closed */ }
      await accepting;
      for (const { connection } of live) connection.close(1001, "node shutting down");
      await Promise.all([...live].map((e) => e.connection.ended));
    },
  };
}
