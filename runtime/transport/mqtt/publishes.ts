/**
 * The publisher side of one MQTT connection: PUBLISH packets and the will message become
 * the session's publish frames (so grants, CASIL and rate limits are the session's);
 * QoS 1 is acknowledged once the session acknowledged the pulse, durably where the reality
 * stores the topic. QoS 2 is not offered. Retained publishes update the retained store once
 * accepted.
 * @module
 */
import { AckMode, type IFrame, type IPulse } from "../../protocol/mod.ts";
import type { NodeMetrics } from "../../telemetry/mod.ts";
import {
  type IConnectPacket,
  type IPublishPacket,
  type Packet,
  REASON,
  reasonOf,
} from "./packets.ts";
import type { RetainedStore } from "./retained.ts";
import type { Outcome } from "./subscriptions.ts";
import { topicFromMqtt } from "./topics.ts";

// How long an abnormal disconnect waits for its will message to be accepted.
const WILL_WAIT_MS = 1000;

/** A will message, as the pulse it becomes. */
export interface Will {
  /** The pulse published on an abnormal disconnect. */
  readonly pulse: IPulse;
  /** Whether it is also retained. */
  readonly retain: boolean;
  /** Its QoS (2 is taken as 1). */
  readonly qos: 0 | 1;
}

/** What the publishes of a connection work with. */
export interface PublishesContext {
  /** Sends a packet to the client. */
  send(packet: Packet): void;
  /** Hands a frame to the session. */
  toSession(frame: IFrame): void | Promise<void>;
  /** A new correlation id whose outcome goes to `then`. */
  correlate(then: (outcome: Outcome) => void): number;
  /** The node's retained messages. */
  readonly retained: RetainedStore;
  /** The reality of the connection ("" default). */
  readonly reality: string;
  /** The protocol version (5 answers with reason codes). */
  readonly version: number;
  /** QoS 1 publishes awaiting their PUBACK before the next is read. */
  readonly maxInflight: number;
  /** The session's frame limit. */
  readonly maxFrameBytes: number;
  /** Counts errors. */
  readonly metrics: NodeMetrics;
  /** Ends the connection abnormally (5.0: DISCONNECT with `reasonCode` first, unless null). */
  fail(reasonCode: number | null): Promise<void>;
  /** Whether the connection ended. */
  closed(): boolean;
}

/** The publishes of one MQTT connection. */
export class MqttPublishes {
  readonly #ctx: PublishesContext;
  #publishing = 0;
  #slot: PromiseWithResolvers<void> | null = null;

  /** Publishes of a new connection. */
  constructor(ctx: PublishesContext) {
    this.#ctx = ctx;
  }

  /** The connection ended: a publish waiting for an in-flight slot stops waiting. */
  release(): void {
    this.#slot?.resolve();
  }

  /** PUBLISH from the client: a publish frame; PUBACK (or a refusal) once the session answered. */
  async publish(packet: IPublishPacket): Promise<void> {
    const v5 = this.#ctx.version === 5;
    if (packet.qos === 2) {
      // QoS 2 is not offered (5.0: Maximum QoS 1 in CONNACK; 3.1.1: the connection closes).
      this.#ctx.metrics.errors.labels("mqtt", "QOS_NOT_SUPPORTED").inc();
      return this.#ctx.fail(REASON.qosNotSupported);
    }
    const topic = packet.properties?.topicAlias === undefined
      ? topicFromMqtt(packet.topic)
      : { ok: false as const, error: "topic aliases are not offered" };
    if (!topic.ok) {
      this.#ctx.metrics.errors.labels("mqtt", "INVALID_TOPIC").inc();
      return this.#ctx.fail(REASON.topicNameInvalid);
    }
    const payload = bytesOf(packet.payload);
    const qos = packet.qos;
    // The frame the session would refuse without a correlation id: refused here instead.
    if (
      payload.length + topic.value.length + this.#ctx.reality.length + 64 > this.#ctx.maxFrameBytes
    ) {
      this.#ctx.metrics.errors.labels("mqtt", "FRAME_TOO_LARGE").inc();
      if (qos === 0) return;
      if (v5) return this.#puback(packet.messageId!, REASON.packetTooLarge);
      return this.#ctx.fail(null);
    }
    if (qos === 1) {
      // At most mqttMaxInflight publishes await their PUBACK; the next waits, unread.
      while (this.#publishing >= this.#ctx.maxInflight) {
        this.#slot ??= Promise.withResolvers();
        await this.#slot.promise;
        if (this.#ctx.closed()) return;
      }
      this.#publishing++;
    }
    const props = packet.properties;
    const pulse: IPulse = {
      realityId: this.#ctx.reality,
      topic: topic.value,
      payload,
      contentType: props?.contentType ?? "",
      headers: v5 ? headersOf(props?.userProperties) : undefined,
    };
    const acked = qos === 1 || packet.retain;
    const correlationId = acked
      ? this.#ctx.correlate((outcome) => this.#published(packet, pulse, outcome))
      : 0;
    return this.#ctx.toSession({
      // Durable where the reality stores the topic, else once sequenced (session_frames.ts).
      publish: { correlationId, ack: acked ? AckMode.DURABLE : AckMode.NONE, pulse },
    });
  }

  #published(packet: IPublishPacket, pulse: IPulse, outcome: Outcome): void {
    if (packet.qos === 1) {
      this.#publishing--;
      const slot = this.#slot;
      this.#slot = null;
      slot?.resolve();
    }
    if (outcome.ok) {
      if (packet.retain) this.#retain(pulse, packet.qos === 1 ? 1 : 0);
      if (packet.qos === 1) this.#puback(packet.messageId!, REASON.success);
      return;
    }
    if (packet.qos !== 1) return;
    // 3.1.1 has no negative PUBACK: closing is the only way not to claim delivery (3.3.5).
    if (this.#ctx.version !== 5) return void this.#ctx.fail(null);
    this.#puback(packet.messageId!, reasonOf(outcome.code), outcome.message);
  }

  #puback(messageId: number, reasonCode: number, reasonString?: string): void {
    if (this.#ctx.version !== 5) return this.#ctx.send({ cmd: "puback", messageId });
    this.#ctx.send({
      cmd: "puback",
      messageId,
      reasonCode,
      ...(reasonString ? { properties: { reasonString: reasonString.slice(0, 200) } } : {}),
    });
  }

  #retain(pulse: IPulse, qos: 0 | 1): void {
    const kept = this.#ctx.retained.set(this.#ctx.reality, {
      topic: pulse.topic!,
      payload: pulse.payload as Uint8Array,
      qos,
      contentType: pulse.contentType || undefined,
    });
    if (!kept) this.#ctx.metrics.limitHits.labels("mqtt_retained").inc();
  }

  /** Publishes the will through the session (policies apply); waits for its outcome. */
  async publishWill(will: Will): Promise<void> {
    const done = Promise.withResolvers<void>();
    const correlationId = this.#ctx.correlate((outcome) => {
      if (outcome.ok && will.retain) this.#retain(will.pulse, will.qos);
      done.resolve();
    });
    try {
      await this.#ctx.toSession({
        publish: { correlationId, ack: AckMode.DURABLE, pulse: will.pulse },
      });
    } catch { /* the session refused it */ }
    await Promise.race([done.promise, delay(WILL_WAIT_MS)]);
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    Deno.unrefTimer(t);
  });
}

/**
 * The will of a CONNECT as a pulse of `reality`, or the error code that refuses it (an
 * invalid topic; QoS 2 from a 5.0 client, who was told Maximum QoS 1; 3.1.1: taken as 1).
 */
export function willOf(
  will: NonNullable<IConnectPacket["will"]>,
  reality: string,
  v5: boolean,
): Will | "INVALID_TOPIC" | "QOS_NOT_SUPPORTED" {
  const topic = topicFromMqtt(will.topic);
  if (!topic.ok) return "INVALID_TOPIC";
  if (v5 && (will.qos ?? 0) > 1) return "QOS_NOT_SUPPORTED";
  return {
    pulse: {
      realityId: reality,
      topic: topic.value,
      payload: bytesOf(will.payload),
      contentType: will.properties?.contentType ?? "",
    },
    retain: will.retain ?? false,
    qos: (will.qos ?? 0) >= 1 ? 1 : 0,
  };
}

/** The bytes of a packet payload, copied (the packet buffer is not ours to keep). */
export function bytesOf(payload: Uint8Array | string): Uint8Array {
  if (typeof payload === "string") return new TextEncoder().encode(payload);
  // A copy: the packet buffer may be a view into a larger read buffer.
  return new Uint8Array(payload);
}

function headersOf(
  props: Record<string, string | string[]> | undefined,
): Record<string, string> | undefined {
  if (!props) return undefined;
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(props)) out[k] = Array.isArray(v) ? v.join(",") : v;
  return out;
}
