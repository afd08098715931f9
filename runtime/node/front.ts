/**
 * The node's ports: the public port (HTTP, WebSocket, TLS; see listen.ts), and, when
 * asked, MQTT and raw TCP (behind the TLS 1.3 terminator when TLS is on). They open
 * together or not at all.
 * @module
 */
import type { Hono } from "hono";
import type { NodeAccess } from "../shield/auth/mod.ts";
import type { ConnectionGate, OriginPolicy, WireFormat } from "../shield/mod.ts";
import { startTlsTerminator, type TlsTerminator } from "../shield/tls/mod.ts";
import type { NodeMetrics } from "../telemetry/mod.ts";
import type { Transport, TransportSession } from "../transport/mod.ts";
import { type MqttListener, startMqttListener } from "../transport/mqtt/mod.ts";
import { startTcpListener, type TcpListener } from "../transport/tcp/mod.ts";
import type { NodeConfig } from "./config.ts";
import { type Listeners, startListeners } from "./listen.ts";

/** What the ports need of the node. */
export interface FrontContext {
  readonly config: NodeConfig;
  readonly metrics: NodeMetrics;
  readonly access: NodeAccess;
  readonly tlsOn: boolean;
  /** The HTTP API. */
  readonly app: Hono;
  readonly origins: OriginPolicy;
  /** The connection cap. */
  readonly gate: ConnectionGate;
  /** Gives the loop over between reads (see `shield/limits/io_turn.ts`). */
  yieldTurn(): Promise<void>;
  /** True once shutdown began. */
  draining(): boolean;
  /** Makes a carrier a session. */
  attach(transport: Transport, format: WireFormat): TransportSession;
}

/** The open ports. */
export interface Front {
  /** The public port's listeners. */
  readonly listeners: Listeners;
  /** The MQTT listener, or null when off. */
  readonly mqtt: MqttListener | null;
  /** The raw TCP listener, or null when off. */
  readonly tcp: TcpListener | null;
  /** The TLS terminator owning the TCP port, or null without TLS. */
  readonly tcpTls: TlsTerminator | null;
}

/** Opens every port; when one fails, those already open are closed and the error thrown. */
export async function openFront(ctx: FrontContext): Promise<Front> {
  const { config, metrics, access, tlsOn, app, origins, gate, attach } = ctx;
  const draining = ctx.draining;
  // Room for what a session queues before it holds deliveries back (the high-water
  // mark, then one batch, history chunk or pulse, JSON-encoded), with margin.
  const maxBufferedBytes = 2 * config.highWaterBytes +
    4 * (Math.max(config.maxBatchBytes, 256 << 10) + config.maxFrameBytes);
  let listeners;
  let mqtt: MqttListener | null = null;
  let tcp: TcpListener | null = null;
  let tcpTls: TlsTerminator | null = null;
  try {
    listeners = await startListeners({
      host: config.host,
      port: config.port,
      wsEngine: config.wsEngine,
      tls: tlsOn ? { certFile: config.tlsCert, keyFile: config.tlsKey } : null,
      maxFrameBytes: config.maxFrameBytes,
      // Room for what a session queues before it holds deliveries back (the high-water
      // mark, then one batch, history chunk or pulse, JSON-encoded), with margin.
      maxBufferedBytes,
      onBufferedOverflow: () => metrics.disconnects.labels("", "outbound_overflow").inc(),
      log: config.log,
      app,
      ws: {
        metrics,
        idleTimeoutSeconds: config.idleTimeoutSeconds,
        draining,
        origins,
        attach,
      },
      yieldTurn: ctx.yieldTurn,
      onAcceptError: () => metrics.errors.labels("tcp", "ACCEPT_FAILED").inc(),
      onHandshakeError: () => access.tlsHandshakeFailed(),
      gate,
      httpDeadlines: {
        headerTimeoutMs: config.httpHeaderTimeoutSeconds * 1000,
        bodyTimeoutMs: config.httpBodyTimeoutSeconds * 1000,
        idleTimeoutMs: config.httpIdleTimeoutSeconds * 1000,
      },
      onLimit: (limit) => metrics.limitHits.labels(limit).inc(),
    });
    // MQTT for devices (runtime/transport/mqtt): its connections are sessions like any other.
    if (config.mqttPort >= 0) {
      mqtt = startMqttListener({
        host: config.host,
        options: config,
        attach,
        metrics,
        maxBufferedBytes,
        maxFrameBytes: config.maxFrameBytes,
        draining,
        gate,
      });
    }
    // Raw TCP (runtime/transport/tcp): length-prefixed frames on sessions like any other;
    // with TLS the node's TLS 1.3-only terminator owns the port and hands connections over.
    if (config.tcpPort >= 0) {
      const tcpListener = startTcpListener({
        host: config.host,
        port: tlsOn ? null : config.tcpPort,
        attach,
        gate,
        maxFrameBytes: config.maxFrameBytes,
        frameTimeoutMs: config.tcpFrameTimeoutSeconds * 1000,
        idleTimeoutSeconds: config.idleTimeoutSeconds,
        yieldTurn: ctx.yieldTurn,
        maxBufferedBytes,
        onBufferedOverflow: () => metrics.disconnects.labels("", "outbound_overflow").inc(),
        onLimit: (limit) => metrics.limitHits.labels(limit).inc(),
        onAcceptError: () => metrics.errors.labels("tcp", "ACCEPT_FAILED").inc(),
      });
      tcp = tcpListener;
      if (tlsOn) {
        tcpTls = await startTlsTerminator({
          cert: await Deno.readTextFile(config.tlsCert),
          key: await Deno.readTextFile(config.tlsKey),
          hostname: config.host,
          port: config.tcpPort,
          onConnection: (conn, client) =>
            tcpListener.accept(
              conn,
              client.hostname.includes(":")
                ? `[${client.hostname}]:${client.port}`
                : `${client.hostname}:${client.port}`,
            ),
          onHandshakeError: () => access.tlsHandshakeFailed(),
        });
      }
    }
  } catch (err) {
    await tcpTls?.close();
    await tcp?.close();
    await mqtt?.close();
    await listeners?.closeFront();
    await listeners?.shutdownHttp();
    throw err;
  }
  return { listeners, mqtt, tcp, tcpTls };
}

/** `tcp://host:port`, or `tls://host:port` when the TCP port speaks TLS. */
export function tcpUrlOf(host: string, port: number, tls: boolean): string {
  const h = host.includes(":") ? `[${host}]` : host;
  return `${tls ? "tls" : "tcp"}://${h}:${port}`;
}
