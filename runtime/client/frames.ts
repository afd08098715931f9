/**
 * The frames a client sends, built from the SDK's options: hello (and its answer to a DID
 * challenge), publish, subscribe, history and request. Kept apart from the connection so
 * the mapping from options to wire fields is read in one place.
 * @module
 */
import {
  AckMode,
  DeliveryOrder,
  encodeFrame,
  type IAnycastTarget,
  type IPulse,
  OverflowPolicy,
  PROTOCOL_VERSION,
  StartMode,
} from "../protocol/mod.ts";
import { answerChallenge } from "../identity/mod.ts";
import type { ConnectOptions, HistoryOptions, PublishOptions } from "./options.ts";
import type { ClientSubscription } from "./subscription.ts";

const OVERFLOW_WIRE = {
  "drop-oldest": OverflowPolicy.DROP_OLDEST,
  "drop-new": OverflowPolicy.DROP_NEW,
  "disconnect": OverflowPolicy.DISCONNECT,
} as const;
const ACK_WIRE = { none: AckMode.NONE, received: AckMode.RECEIVED, durable: AckMode.DURABLE };
const encoder = new TextEncoder();

/** The wire ack mode of a publish option (`received` when left out). */
export function ackModeOf(ack: PublishOptions["ack"]): number {
  return ACK_WIRE[ack ?? "received"];
}

/** The pulse a client sends for `publish` and `request`. */
export function pulseOf(
  topic: string,
  payload: Uint8Array | string,
  options: Omit<PublishOptions, "ack">,
): IPulse {
  return {
    ...options.pulse,
    topic,
    realityId: options.reality ?? "",
    payload: typeof payload === "string" ? encoder.encode(payload) : payload,
    headers: options.headers,
    contentType: options.contentType ?? "",
    traceContext: options.traceContext,
  };
}

/** The first frame on a connection. */
export function helloFrame(options: ConnectOptions): Uint8Array {
  return encodeFrame({
    hello: {
      clientName: options.name ?? "",
      protocolVersion: PROTOCOL_VERSION,
      capabilities: ["batch"],
      token: options.token ?? "",
      did: options.identity?.did ?? "",
      card: cardText(options),
    },
  });
}

function cardText(options: ConnectOptions): string {
  const card = options.card;
  return card === undefined ? "" : typeof card === "string" ? card : JSON.stringify(card);
}

/**
 * The second hello, proving the DID: it signs the node's single-use nonce, bound to the
 * node's id and our DID.
 */
export function challengeAnswerFrame(
  options: ConnectOptions & Required<Pick<ConnectOptions, "identity">>,
  nodeId: string,
  nonce: Uint8Array,
): Uint8Array {
  const identity = options.identity;
  return encodeFrame({
    hello: {
      clientName: options.name ?? "",
      protocolVersion: PROTOCOL_VERSION,
      capabilities: ["batch"],
      did: identity.did,
      nonce,
      signature: answerChallenge(identity, nodeId, nonce),
      card: cardText(options),
    },
  });
}

/** The subscribe frame of a subscription (sent again, resuming, after a reconnect). */
export function subscribeFrame(sub: ClientSubscription, correlationId: number): Uint8Array {
  const o = sub.options;
  // After a reconnect, continue right after the last pulse seen (history replays the gap).
  const resumeFrom = sub.lastSequence > 0 && !o.queueGroup && o.resume !== false
    ? sub.lastSequence + 1
    : 0;
  const fromSequence = resumeFrom || o.fromSequence || 0;
  const start = fromSequence
    ? StartMode.FROM_SEQUENCE
    : o.fromTimeMs
    ? StartMode.FROM_TIME
    : StartMode.LIVE;
  return encodeFrame({
    subscribe: {
      subscriptionId: sub.id,
      correlationId,
      realityId: o.reality ?? "",
      pattern: sub.pattern,
      queueGroup: o.queueGroup ?? "",
      maxInFlight: o.maxInFlight ?? 0,
      overflow: o.overflow ? OVERFLOW_WIRE[o.overflow] : 0,
      maxQueueMessages: o.maxQueueMessages ?? 0,
      maxQueueBytes: o.maxQueueBytes ?? 0,
      start,
      fromSequence,
      fromTimeMs: o.fromTimeMs ?? 0,
      spectralFilter: o.spectralFilter ?? "",
      order: o.order === "causal" ? DeliveryOrder.CAUSAL : DeliveryOrder.ARRIVAL,
      causalTimeoutMs: o.causalTimeoutMs ?? 0,
      anycast: o.anycast && {
        vectors: o.anycast.vectors.map((v) => ({ values: Array.from(v) })),
        minScore: o.anycast.minScore ?? 0,
      },
    },
  });
}

/** A `history.get` frame. */
export function historyFrame(correlationId: number, query: HistoryOptions): Uint8Array {
  return encodeFrame({
    historyGet: {
      correlationId,
      realityId: query.reality ?? "",
      pattern: query.pattern ?? "",
      fromSequence: query.fromSequence ?? 0,
      toSequence: query.toSequence ?? 0,
      fromTimeMs: query.fromTimeMs ?? 0,
      toTimeMs: query.toTimeMs ?? 0,
      limit: query.limit ?? 0,
    },
  });
}

/**
 * A request frame; `timeoutMs` 0 takes the node's default. `stream`: every reply until the
 * final one (the timeout then bounds the wait between two replies).
 */
export function requestFrame(
  correlationId: number,
  pulse: IPulse,
  timeoutMs: number,
  stream = false,
  anycast?: IAnycastTarget,
): Uint8Array {
  return encodeFrame({ request: { correlationId, pulse, timeoutMs, stream, anycast } });
}

/** The wire form of an anycast option. */
export function anycastTarget(
  a: { vector: ArrayLike<number>; k?: number } | undefined,
): IAnycastTarget | undefined {
  return a && { vector: Array.from(a.vector), k: a.k ?? 0 };
}
