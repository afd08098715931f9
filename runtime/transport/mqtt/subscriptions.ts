/**
 * The subscriber side of one MQTT connection: SUBSCRIBE and UNSUBSCRIBE become the
 * session's subscribe and unsubscribe frames (so permissions, quotas and queues are the
 * session's), deliveries become PUBLISH packets at the granted QoS, and QoS 1 deliveries
 * are paced by the session's credit: a subscription has at most `maxInflight` deliveries
 * the client has not acknowledged, each PUBACK grants one more.
 * @module
 */
import type { IFrame, IPulse } from "../../protocol/mod.ts";
import type { NodeMetrics } from "../../telemetry/mod.ts";
import {
  asBuffer,
  type ISubscribePacket,
  type IUnsubscribePacket,
  type Packet,
  REASON,
} from "./packets.ts";
import type { RetainedMessage, RetainedStore } from "./retained.ts";
import { filterFromMqtt, topicToMqtt } from "./topics.ts";

/** An answer the session gave to a frame carrying a correlation id. */
export type Outcome = { ok: true } | { ok: false; code: string; message: string };

/** What the subscriptions of a connection work with. */
export interface SubscriptionsContext {
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
  /** Unacknowledged QoS 1 deliveries per subscription. */
  readonly maxInflight: number;
  /** The protocol version (5 answers with reason codes). */
  readonly version: number;
  /** Counts errors. */
  readonly metrics: NodeMetrics;
  /** Every packet id is taken by an unacknowledged delivery: the client is cut off. */
  overloaded(): void;
}

interface Sub {
  readonly filter: string;
  readonly pattern: string;
  readonly qos: 0 | 1;
}

/** The subscriptions of one MQTT connection. */
export class MqttSubscriptions {
  readonly #ctx: SubscriptionsContext;
  readonly #subs = new Map<number, Sub>();
  readonly #byFilter = new Map<string, number>();
  // QoS 1 packets sent and not yet acknowledged: packet id -> subscription (0: retained).
  readonly #inflight = new Map<number, number>();
  #nextSub = 1;
  #nextPacketId = 1;

  /** Subscriptions of a new connection. */
  constructor(ctx: SubscriptionsContext) {
    this.#ctx = ctx;
  }

  /** QoS 1 deliveries awaiting the client's PUBACK. */
  get inflight(): number {
    return this.#inflight.size;
  }

  /** SUBSCRIBE: one subscribe frame per filter; SUBACK once the session answered them all. */
  async subscribe(packet: ISubscribePacket): Promise<void> {
    const codes: number[] = [];
    const granted: { pattern: string; qos: 0 | 1; shared: boolean }[] = [];
    let waiting = packet.subscriptions.length;
    const done = Promise.withResolvers<void>();
    const answered = () => {
      if (--waiting === 0) done.resolve();
    };
    for (const [i, s] of packet.subscriptions.entries()) {
      const mapped = filterFromMqtt(s.topic);
      if (!mapped.ok) {
        this.#ctx.metrics.errors.labels("mqtt", "INVALID_PATTERN").inc();
        codes[i] = this.#ctx.version === 5 ? REASON.topicFilterInvalid : 0x80;
        answered();
        continue;
      }
      // QoS 2 is granted as 1 (the client is told in SUBACK, as the spec allows).
      const qos: 0 | 1 = s.qos >= 1 ? 1 : 0;
      const { pattern, queueGroup } = mapped.value;
      // A second SUBSCRIBE of the same filter replaces the first (MQTT 3.8.4).
      const old = this.#byFilter.get(s.topic);
      if (old !== undefined) await this.#unsubscribeId(old);
      const subscriptionId = this.#nextSub++;
      this.#subs.set(subscriptionId, { filter: s.topic, pattern, qos });
      this.#byFilter.set(s.topic, subscriptionId);
      const correlationId = this.#ctx.correlate((outcome) => {
        if (outcome.ok) {
          codes[i] = qos;
          granted.push({ pattern, qos, shared: queueGroup !== "" });
        } else {
          this.#subs.delete(subscriptionId);
          if (this.#byFilter.get(s.topic) === subscriptionId) this.#byFilter.delete(s.topic);
          codes[i] = this.#ctx.version === 5 ? reasonOfSubscribe(outcome.code) : 0x80;
        }
        answered();
      });
      await this.#ctx.toSession({
        subscribe: {
          subscriptionId,
          realityId: this.#ctx.reality,
          pattern,
          queueGroup,
          correlationId,
          maxInFlight: qos === 1 ? this.#ctx.maxInflight : 0,
        },
      });
    }
    if (waiting > 0) await done.promise;
    this.#ctx.send({ cmd: "suback", messageId: packet.messageId, granted: codes });
    // Retained messages follow the SUBACK (not for shared subscriptions: MQTT 5 4.8.2).
    for (const g of granted) {
      if (g.shared) continue;
      for (const m of this.#ctx.retained.matching(this.#ctx.reality, g.pattern)) {
        if (await this.#mayRead(m.topic)) this.#sendRetained(m, g.qos);
      }
    }
  }

  /**
   * Whether the session lets this client read `topic`: a grant may allow a filter and deny
   * topics inside it, which the session checks on each live delivery; a retained copy is
   * checked the same way, by a subscription to the exact topic, dropped at once.
   */
  async #mayRead(topic: string): Promise<boolean> {
    const subscriptionId = this.#nextSub++;
    const answer = Promise.withResolvers<boolean>();
    const correlationId = this.#ctx.correlate((outcome) => answer.resolve(outcome.ok));
    await this.#ctx.toSession({
      subscribe: { subscriptionId, realityId: this.#ctx.reality, pattern: topic, correlationId },
    });
    const ok = await answer.promise;
    // Deliveries to this id are ignored (it is not in #subs).
    if (ok) await this.#ctx.toSession({ unsubscribe: { subscriptionId } });
    return ok;
  }

  /** UNSUBSCRIBE: unsubscribe frames, then UNSUBACK. */
  async unsubscribe(packet: IUnsubscribePacket): Promise<void> {
    const codes: number[] = [];
    for (const filter of packet.unsubscriptions) {
      const id = this.#byFilter.get(filter);
      codes.push(id === undefined ? REASON.noSubscriptionExisted : REASON.success);
      if (id !== undefined) await this.#unsubscribeId(id);
    }
    this.#ctx.send(
      this.#ctx.version === 5
        ? { cmd: "unsuback", messageId: packet.messageId, granted: codes }
        : { cmd: "unsuback", messageId: packet.messageId, granted: [] },
    );
  }

  /** A delivery from the session: a PUBLISH at the subscription's QoS. */
  deliver(subscriptionId: number, pulse: IPulse): void {
    const sub = this.#subs.get(subscriptionId);
    if (!sub) return;
    const messageId = sub.qos === 1 ? this.#packetId(subscriptionId) : undefined;
    if (messageId === null) return this.#ctx.overloaded();
    this.#ctx.send({
      cmd: "publish",
      topic: topicToMqtt(pulse.topic ?? ""),
      payload: asBuffer(pulse.payload ?? new Uint8Array()),
      qos: messageId === undefined ? 0 : 1,
      messageId,
      retain: false,
      dup: false,
      properties: this.#properties(pulse.contentType ?? "", pulse.headers ?? undefined),
    });
  }

  /** PUBACK from the client: its subscription may have one more delivery in flight. */
  acknowledged(messageId: number): void | Promise<void> {
    const subscriptionId = this.#inflight.get(messageId);
    if (subscriptionId === undefined) return;
    this.#inflight.delete(messageId);
    if (subscriptionId === 0 || !this.#subs.has(subscriptionId)) return;
    return this.#ctx.toSession({ credit: { subscriptionId, count: 1 } });
  }

  async #unsubscribeId(subscriptionId: number): Promise<void> {
    const sub = this.#subs.get(subscriptionId);
    this.#subs.delete(subscriptionId);
    if (sub && this.#byFilter.get(sub.filter) === subscriptionId) this.#byFilter.delete(sub.filter);
    for (const [packetId, id] of this.#inflight) {
      if (id === subscriptionId) this.#inflight.delete(packetId);
    }
    await this.#ctx.toSession({ unsubscribe: { subscriptionId } });
  }

  #sendRetained(m: RetainedMessage, granted: 0 | 1): void {
    const qos = Math.min(granted, m.qos) as 0 | 1;
    const messageId = qos === 1 ? this.#packetId(0) : undefined;
    if (messageId === null) return this.#ctx.overloaded();
    this.#ctx.send({
      cmd: "publish",
      topic: topicToMqtt(m.topic),
      payload: asBuffer(m.payload),
      qos,
      messageId,
      retain: true,
      dup: false,
      properties: this.#properties(m.contentType ?? "", undefined),
    });
  }

  /**
   * A free packet id for a QoS 1 delivery of `subscriptionId` (0: a retained copy), or null
   * when all 65,535 wait for a PUBACK (a client acknowledging nothing, resubscribing).
   */
  #packetId(subscriptionId: number): number | null {
    // At most maxInflight per subscription are taken, far fewer than 65535 in practice;
    // the scan skips ids still in flight.
    for (let tries = 0; tries < 65535; tries++) {
      const id = this.#nextPacketId;
      this.#nextPacketId = id === 65535 ? 1 : id + 1;
      if (!this.#inflight.has(id)) {
        this.#inflight.set(id, subscriptionId);
        return id;
      }
    }
    return null;
  }

  #properties(
    contentType: string,
    headers: Record<string, string> | undefined,
  ): { contentType?: string; userProperties?: Record<string, string> } | undefined {
    if (this.#ctx.version !== 5) return undefined;
    const props: { contentType?: string; userProperties?: Record<string, string> } = {};
    if (contentType) props.contentType = contentType;
    if (headers && Object.keys(headers).length > 0) props.userProperties = { ...headers };
    return props;
  }
}

/** The MQTT 5 SUBACK reason for a refused subscribe frame. */
function reasonOfSubscribe(code: string): number {
  switch (code) {
    case "UNAUTHORIZED":
    case "FORBIDDEN":
      return REASON.notAuthorized;
    case "TOO_MANY_SUBSCRIPTIONS":
    case "QUOTA_EXCEEDED":
    case "RATE_LIMITED":
      return REASON.quotaExceeded;
    case "INVALID_PATTERN":
      return REASON.topicFilterInvalid;
    default:
      return REASON.unspecified;
  }
}
