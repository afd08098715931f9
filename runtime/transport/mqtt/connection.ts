/**
 * One MQTT client connection as a `Transport` of the node's ordinary session: CONNECT
 * becomes a hello (the password carries the token), PUBLISH a publish frame, SUBSCRIBE a
 * subscribe frame (`subscriptions.ts`); what the session answers (welcome, acks, errors,
 * deliveries) comes back through `send` and is turned into MQTT packets. Admission,
 * permissions, CASIL, rate limits, queues and backpressure are therefore the session's,
 * exactly as for a WebSocket. This file adds what only MQTT has: the CONNECT deadline,
 * keep-alive, QoS 1 acknowledgement, retained and will messages, and the packet bounds.
 * @module
 */
import {
  type BusError,
  encodeFrame,
  errorCodeName,
  type FrameReader,
  type IFrame,
  PROTO_CODEC,
} from "../../protocol/mod.ts";
import type { NodeMetrics } from "../../telemetry/mod.ts";
import type { Transport, TransportSession } from "../transport.ts";
import { PacketFramer } from "./framing.ts";
import type { MqttOptions } from "./options.ts";
import { MqttOutbound } from "./outbound.ts";
import {
  CONNACK_V4,
  connackAccepted,
  connackRefusal,
  connackRefused,
  type IConnectPacket,
  type Packet,
  PacketCodec,
  REASON,
} from "./packets.ts";
import { MqttPublishes, type Will, willOf } from "./publishes.ts";
import type { RetainedStore } from "./retained.ts";
import { MqttSubscriptions, type Outcome } from "./subscriptions.ts";
import { realityFromUsername } from "./topics.ts";

// How long a closing connection may take to write its last packets (CONNACK refusal,
// DISCONNECT) to a peer that reads.
const LAST_WORDS_MS = 1000;
// An idle connection waits in a read of a small buffer of its own (devices are many and
// their packets small); a read that fills it is followed by one into a large, short-lived one.
const IDLE_READ_BYTES = 1024;
const BUSY_READ_BYTES = 64 * 1024;

/** What a connection needs from its listener and node. */
export interface MqttConnectionContext {
  /** The listener's limits. */
  readonly options: MqttOptions;
  /** Starts the node's session on this transport (`ArqonNode.attach`). */
  readonly attach: (transport: Transport, format: "proto") => TransportSession;
  /** The node's retained messages. */
  readonly retained: RetainedStore;
  /** The node's metrics. */
  readonly metrics: NodeMetrics;
  /** Bytes the write queue may hold for a peer that does not read (then: cut off). */
  readonly maxBufferedBytes: number;
  /** The session's frame limit: a PUBLISH whose frame would exceed it is refused here. */
  readonly maxFrameBytes: number;
  /** Whether the node is shutting down (new connections are refused). */
  readonly draining: () => boolean;
  /**
   * Registers this connection as the live one of `clientKey`; the one it replaces (same
   * client id, reality and credentials) is taken over (MQTT 3.1.4-2).
   */
  readonly claim: (clientKey: string, connection: MqttConnection) => void;
  /** The connection of `clientKey` ended. */
  readonly release: (clientKey: string, connection: MqttConnection) => void;
}

type State = "new" | "connecting" | "open" | "closed";

/** One MQTT connection; `run` serves it until it closes. */
export class MqttConnection implements Transport {
  /** Metric label of this carrier. */
  readonly kind = "mqtt";
  /** Reads the next packet only once the session handled the last one (TCP backpressure). */
  readonly readsOnDemand = true;
  /** Peer address. */
  readonly remote: string;
  readonly #conn: Deno.Conn;
  readonly #ctx: MqttConnectionContext;
  readonly #out: MqttOutbound;
  readonly #framer: PacketFramer;
  readonly #codec = new PacketCodec();
  #state: State = "new";
  #session: TransportSession | null = null;
  #subs: MqttSubscriptions | null = null;
  #reality = "";
  #will: Will | undefined;
  #keepAliveMs = 0;
  #lastHeard = Date.now();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #connack: PromiseWithResolvers<void> | null = null;
  readonly #pending = new Map<number, (outcome: Outcome) => void>();
  #nextCorrelation = 1;
  #pubs: MqttPublishes | null = null;
  readonly #ended = Promise.withResolvers<void>();

  /** Wraps an accepted TCP connection. */
  constructor(conn: Deno.Conn, remote: string, ctx: MqttConnectionContext) {
    this.#conn = conn;
    this.remote = remote;
    this.#ctx = ctx;
    this.#framer = new PacketFramer(ctx.options.mqttMaxPacketBytes);
    this.#out = new MqttOutbound(conn, ctx.maxBufferedBytes, () => {
      ctx.metrics.disconnects.labels(this.#reality, "outbound_overflow").inc();
      void this.#end(true);
    }, () => void this.#end(true));
  }

  /** Resolves once the connection ended and its session was released. */
  get ended(): Promise<void> {
    return this.#ended.promise;
  }

  get #closed(): boolean {
    return this.#state === "closed";
  }

  /** Reads and handles packets until the connection closes. */
  async run(): Promise<void> {
    const seconds = this.#ctx.options.mqttConnectTimeoutSeconds;
    if (seconds > 0) {
      this.#timer = setTimeout(() => {
        if (this.#state !== "new") return;
        this.#ctx.metrics.limitHits.labels("mqtt_connect_timeout").inc();
        void this.#end(false);
      }, seconds * 1000);
    }
    const idle = new Uint8Array(IDLE_READ_BYTES);
    let buf = idle;
    try {
      while (this.#state !== "closed") {
        const n = await this.#conn.read(buf);
        if (n === null) break;
        this.#lastHeard = Date.now();
        // The framer keeps what it is given: a copy, the buffer is read into again.
        const framed = this.#framer.push(buf.slice(0, n));
        buf = n === buf.length ? new Uint8Array(BUSY_READ_BYTES) : idle;
        for (const packet of framed.packets) {
          if (this.#closed) break;
          const pending = this.#onPacket(packet);
          if (pending) await pending;
        }
        if (framed.error && !this.#closed) {
          const tooLarge = framed.error.kind === "too_large";
          this.#ctx.metrics.errors.labels("mqtt", tooLarge ? "FRAME_TOO_LARGE" : "INVALID_FRAME")
            .inc();
          if (tooLarge) this.#ctx.metrics.limitHits.labels("mqtt_packet_bytes").inc();
          this.#disconnect(tooLarge ? REASON.packetTooLarge : REASON.malformed);
          break;
        }
      }
    } catch { /* reset by the peer, or closed by us */ }
    await this.#end(true);
  }

  // --- Transport: what the session sends --------------------------------------------

  /** A message from the session (protobuf frames): turned into MQTT packets. */
  send(frame: Uint8Array | string): void {
    if (typeof frame === "string") return;
    try {
      PROTO_CODEC.read(frame, this.#reader);
    } catch (err) {
      // A translation failure must not break the session's outbox: this connection ends.
      console.error(`arqon: mqtt connection ${this.remote} failed:`, err);
      this.#ctx.metrics.errors.labels("mqtt", "INTERNAL").inc();
      void this.#end(true);
    }
  }

  /** Bytes queued for the peer and not yet written. */
  bufferedAmount(): number {
    return this.#out.queued;
  }

  /** Resolves once at most `bytes` are queued for the peer. */
  drained(bytes: number): Promise<void> {
    return this.#out.drained(bytes);
  }

  /** The session closes the connection (shutdown, flood, slow consumer). */
  close(code = 1000, _reason = ""): void {
    if (this.#state === "closed") return;
    this.#disconnect(code === 1001 ? REASON.serverShuttingDown : REASON.implementationSpecific);
    void this.#end(false);
  }

  readonly #reader: FrameReader = {
    publish: () => {},
    error: (_e: BusError) => {},
    frame: (frame: IFrame, kind: string) => {
      switch (kind) {
        case "welcome":
          return this.#connected();
        case "challenge":
          return this.#refuse(connackRefusal("UNAUTHORIZED", this.#codec.version));
        case "ack":
          return this.#settle(Number(frame.ack!.correlationId ?? 0), { ok: true });
        case "subscribed":
          return this.#settle(Number(frame.subscribed!.correlationId ?? 0), { ok: true });
        case "deliver":
          return this.#subs?.deliver(frame.deliver!.subscriptionId ?? 0, frame.deliver!.pulse!);
        case "error": {
          const e = frame.error!;
          const code = errorCodeName(e.code ?? 0);
          const correlationId = Number(e.correlationId ?? 0);
          if (correlationId && this.#pending.has(correlationId)) {
            return this.#settle(correlationId, { ok: false, code, message: e.message ?? "" });
          }
          // A refused hello: the CONNACK says so. Other notices were counted by the session.
          if (this.#state === "connecting") this.#refuse(connackRefusal(code, this.#codec.version));
          return;
        }
      }
    },
  };

  #settle(correlationId: number, outcome: Outcome): void {
    const then = this.#pending.get(correlationId);
    if (!then) return;
    this.#pending.delete(correlationId);
    then(outcome);
  }

  #correlate(then: (outcome: Outcome) => void): number {
    const id = this.#nextCorrelation++;
    this.#pending.set(id, then);
    return id;
  }

  #toSession(frame: IFrame): void | Promise<void> {
    return this.#session?.receive(encodeFrame(frame));
  }

  #write(packet: Packet): void {
    if (this.#state === "closed") return;
    this.#out.write(this.#codec.encode(packet));
  }

  /** MQTT 5 tells why before closing; 3.1.1 has no server DISCONNECT. */
  #disconnect(reasonCode: number): void {
    if (this.#codec.version === 5 && this.#state === "open") {
      this.#write({ cmd: "disconnect", reasonCode });
    }
  }

  // --- What the client sends ----------------------------------------------------------

  #onPacket(bytes: Uint8Array): void | Promise<void> {
    const type = bytes[0] >> 4;
    if (this.#state === "new" && type !== 1) return this.#violation("first packet is not CONNECT");
    let packet: Packet;
    try {
      packet = this.#codec.decode(bytes);
    } catch {
      this.#ctx.metrics.errors.labels("mqtt", "INVALID_FRAME").inc();
      this.#disconnect(REASON.malformed);
      return this.#end(true);
    }
    switch (packet.cmd) {
      case "connect":
        if (this.#state !== "new") return this.#violation("second CONNECT");
        return this.#connect(packet);
      case "publish":
        return this.#pubs!.publish(packet);
      case "subscribe":
        return this.#subs!.subscribe(packet);
      case "unsubscribe":
        return this.#subs!.unsubscribe(packet);
      case "puback":
        return this.#subs!.acknowledged(packet.messageId ?? 0);
      case "pingreq":
        return this.#write({ cmd: "pingresp" });
      case "disconnect":
        // MQTT 5 reason 0x04: "disconnect, but publish my will".
        return this.#end(packet.reasonCode === REASON.disconnectWithWill);
      case "pubrec":
      case "pubrel":
      case "pubcomp":
        // This listener neither sends nor accepts QoS 2: nothing is in that exchange.
        return;
      default:
        return this.#violation(`clients do not send ${packet.cmd.toUpperCase()}`);
    }
  }

  #violation(why: string): Promise<void> {
    this.#ctx.metrics.errors.labels("mqtt", "PROTOCOL_VIOLATION").inc();
    if (this.#state === "new") return this.#end(false);
    void why;
    this.#disconnect(REASON.protocolError);
    return this.#end(true);
  }

  async #connect(packet: IConnectPacket): Promise<void> {
    clearTimeout(this.#timer);
    const version = packet.protocolVersion ?? 4;
    this.#codec.version = version;
    if (version !== 3 && version !== 4 && version !== 5) {
      this.#codec.version = 4;
      return this.#refuse(CONNACK_V4.badProtocol);
    }
    const v5 = version === 5;
    if (this.#ctx.draining()) return this.#refuse(v5 ? REASON.serverUnavailable : 3);
    let clientId = packet.clientId;
    let assigned: string | undefined;
    if (!clientId) {
      // 3.1.1: an empty client id is only allowed with a clean session (3.1.3-7).
      if (!packet.clean && !v5) return this.#refuse(CONNACK_V4.identifierRejected);
      clientId = assigned = `arqon-${crypto.randomUUID().slice(0, 13)}`;
    }
    const reality = realityFromUsername(packet.username);
    if (!reality.ok) {
      this.#ctx.metrics.errors.labels("mqtt", "INVALID_ARGUMENT").inc();
      return this.#refuse(v5 ? REASON.badCredentials : CONNACK_V4.badCredentials);
    }
    this.#reality = reality.value;
    if (packet.will) {
      const will = willOf(packet.will, this.#reality, v5);
      if (typeof will === "string") {
        this.#ctx.metrics.errors.labels("mqtt", will).inc();
        if (!v5) return this.#end(false);
        return this.#refuse(
          will === "INVALID_TOPIC" ? REASON.topicNameInvalid : REASON.qosNotSupported,
        );
      }
      this.#will = will;
    }
    // Scoped by reality and credentials: with authentication on, a client cannot take over
    // another principal's connection by reusing its client id.
    const password = packet.password ? new TextDecoder().decode(packet.password) : "";
    this.#pendingKey = `${this.#reality}\u0000${clientId}\u0000${password}`;
    this.#keepAliveMs = (packet.keepalive ?? 0) * 1000;
    this.#state = "connecting";
    this.#assigned = assigned;
    this.#session = this.#ctx.attach(this, "proto");
    this.#subs = new MqttSubscriptions({
      send: (p) => this.#write(p),
      toSession: (f) => this.#toSession(f),
      correlate: (then) => this.#correlate(then),
      retained: this.#ctx.retained,
      reality: this.#reality,
      maxInflight: this.#ctx.options.mqttMaxInflight,
      version,
      metrics: this.#ctx.metrics,
      overloaded: () => {
        this.#ctx.metrics.limitHits.labels("mqtt_packet_ids").inc();
        this.#disconnect(REASON.receiveMaximumExceeded);
        void this.#end(true);
      },
    });
    this.#pubs = new MqttPublishes({
      send: (p) => this.#write(p),
      toSession: (f) => this.#toSession(f),
      correlate: (then) => this.#correlate(then),
      retained: this.#ctx.retained,
      reality: this.#reality,
      version,
      maxInflight: this.#ctx.options.mqttMaxInflight,
      maxFrameBytes: this.#ctx.maxFrameBytes,
      metrics: this.#ctx.metrics,
      fail: (reasonCode) => {
        if (reasonCode !== null) this.#disconnect(reasonCode);
        return this.#end(true);
      },
      closed: () => this.#state === "closed",
    });
    this.#connack = Promise.withResolvers();
    await this.#toSession({
      hello: { clientName: `mqtt:${clientId}`, protocolVersion: 1, token: password || undefined },
    });
    // Nothing more is read until the CONNACK is decided (the session authenticates).
    await this.#connack.promise;
  }

  #assigned: string | undefined;
  #clientKey: string | null = null;
  #pendingKey = "";

  /** Another connection took this client id over: it ends as if dropped (its will goes out). */
  takenOver(): void {
    if (this.#state === "closed") return;
    this.#ctx.metrics.disconnects.labels(this.#reality, "mqtt_takeover").inc();
    this.#disconnect(REASON.sessionTakenOver);
    void this.#end(true);
  }

  #connected(): void {
    if (this.#state !== "connecting") return;
    this.#state = "open";
    this.#write(connackAccepted(this.#codec.version, this.#ctx.options, this.#assigned));
    this.#clientKey = this.#pendingKey;
    this.#ctx.claim(this.#clientKey, this);
    if (this.#keepAliveMs > 0) this.#watchKeepAlive();
    this.#connack?.resolve();
  }

  #refuse(code: number): Promise<void> {
    this.#write(connackRefused(this.#codec.version, code));
    this.#connack?.resolve();
    return this.#end(false);
  }

  /** A client silent for 1.5 times its keep-alive is gone (MQTT 3.1.2.10). */
  #watchKeepAlive(): void {
    const limit = this.#keepAliveMs * 1.5;
    const check = () => {
      if (this.#state === "closed") return;
      const silent = Date.now() - this.#lastHeard;
      if (silent > limit) {
        this.#ctx.metrics.limitHits.labels("mqtt_keepalive").inc();
        this.#disconnect(REASON.keepAliveTimeout);
        void this.#end(true);
        return;
      }
      this.#timer = setTimeout(check, Math.max(50, limit - silent + 10));
    };
    this.#timer = setTimeout(check, limit + 10);
  }

  // --- The end ------------------------------------------------------------------------

  /** Ends the connection once; `abnormal`: the will message is published (MQTT 3.1.2.5). */
  async #end(abnormal: boolean): Promise<void> {
    if (this.#state === "closed") return this.#ended.promise;
    const wasOpen = this.#state === "open";
    this.#state = "closed";
    clearTimeout(this.#timer);
    this.#connack?.resolve();
    this.#pubs?.release();
    // Its last packets (a CONNACK refusal, a DISCONNECT) reach a peer that reads.
    await Promise.race([this.#out.flushed(), delay(LAST_WORDS_MS)]);
    this.#out.close();
    try {
      this.#conn.close();
    } catch { /* already closed */ }
    const session = this.#session;
    if (session) {
      const will = this.#will;
      if (abnormal && wasOpen && will && !this.#ctx.draining()) await this.#pubs!.publishWill(will);
      for (const then of this.#pending.values()) {
        then({ ok: false, code: "SHUTTING_DOWN", message: "connection closed" });
      }
      this.#pending.clear();
      session.closed();
    }
    if (this.#clientKey !== null) this.#ctx.release(this.#clientKey, this);
    this.#ended.resolve();
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    Deno.unrefTimer(t);
  });
}
