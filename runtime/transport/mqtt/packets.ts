/**
 * MQTT packet decoding and encoding, by `mqtt-packet` (the protocol library MQTT.js is
 * built on): one parser per connection, since a 5.0 CONNECT switches it to 5.0 parsing.
 * Also the reason codes this listener answers with, from an ArqonBus error code.
 * @module
 */
import { Buffer } from "node:buffer";
import mqtt from "mqtt-packet";
import type { Packet } from "mqtt-packet";

export type {
  IConnectPacket,
  IPublishPacket,
  ISubscribePacket,
  IUnsubscribePacket,
  Packet,
} from "mqtt-packet";

/** MQTT 3.1.1 CONNACK return codes. */
export const CONNACK_V4 = {
  accepted: 0,
  badProtocol: 1,
  identifierRejected: 2,
  unavailable: 3,
  badCredentials: 4,
  notAuthorized: 5,
} as const;

/** MQTT 5.0 reason codes this listener uses. */
export const REASON = {
  success: 0x00,
  disconnectWithWill: 0x04,
  noSubscriptionExisted: 0x11,
  unspecified: 0x80,
  malformed: 0x81,
  protocolError: 0x82,
  implementationSpecific: 0x83,
  unsupportedProtocol: 0x84,
  identifierInvalid: 0x85,
  badCredentials: 0x86,
  notAuthorized: 0x87,
  serverUnavailable: 0x88,
  serverBusy: 0x89,
  serverShuttingDown: 0x8b,
  sessionTakenOver: 0x8e,
  keepAliveTimeout: 0x8d,
  topicFilterInvalid: 0x8f,
  topicNameInvalid: 0x90,
  receiveMaximumExceeded: 0x93,
  packetTooLarge: 0x95,
  quotaExceeded: 0x97,
  payloadFormatInvalid: 0x99,
  qosNotSupported: 0x9b,
} as const;

/** The MQTT 5.0 reason code of a refused publish or subscribe, from its ArqonBus error. */
export function reasonOf(code: string): number {
  switch (code) {
    case "UNAUTHORIZED":
    case "FORBIDDEN":
    case "POLICY_DENIED":
      return REASON.notAuthorized;
    case "RATE_LIMITED":
    case "QUOTA_EXCEEDED":
    case "TOO_MANY_SUBSCRIPTIONS":
      return REASON.quotaExceeded;
    case "INVALID_TOPIC":
      return REASON.topicNameInvalid;
    case "INVALID_PATTERN":
      return REASON.topicFilterInvalid;
    case "FRAME_TOO_LARGE":
      return REASON.packetTooLarge;
    case "SHUTTING_DOWN":
      return REASON.serverShuttingDown;
    default:
      return REASON.unspecified;
  }
}

/** The CONNACK refusal for a failed authentication, by version. */
export function connackRefusal(code: string, version: number): number {
  const badCredentials = code === "UNAUTHORIZED";
  if (version === 5) {
    if (code === "SHUTTING_DOWN") return REASON.serverUnavailable;
    return badCredentials ? REASON.badCredentials : REASON.notAuthorized;
  }
  if (code === "SHUTTING_DOWN") return CONNACK_V4.unavailable;
  return badCredentials ? CONNACK_V4.badCredentials : CONNACK_V4.notAuthorized;
}

/** The limits a 5.0 CONNACK announces. */
export interface ConnackLimits {
  /** Largest packet accepted. */
  readonly mqttMaxPacketBytes: number;
  /** QoS 1 publishes awaiting PUBACK at once (Receive Maximum). */
  readonly mqttMaxInflight: number;
}

/** The CONNACK accepting a connection; 5.0 announces what is (not) offered. */
export function connackAccepted(
  version: number,
  limits: ConnackLimits,
  assignedClientId: string | undefined,
): Packet {
  // Sessions are not kept across connections: every session starts clean.
  if (version !== 5) return { cmd: "connack", returnCode: 0, sessionPresent: false };
  return {
    cmd: "connack",
    reasonCode: 0,
    sessionPresent: false,
    properties: {
      maximumQoS: 1,
      retainAvailable: true,
      maximumPacketSize: limits.mqttMaxPacketBytes,
      receiveMaximum: limits.mqttMaxInflight,
      topicAliasMaximum: 0,
      wildcardSubscriptionAvailable: true,
      subscriptionIdentifiersAvailable: false,
      sharedSubscriptionAvailable: true,
      ...(assignedClientId ? { assignedClientIdentifier: assignedClientId } : {}),
    },
  };
}

/** The CONNACK refusing a connection with `code` (a 3.1.1 return code or a 5.0 reason). */
export function connackRefused(version: number, code: number): Packet {
  return version === 5
    ? { cmd: "connack", reasonCode: code, sessionPresent: false }
    : { cmd: "connack", returnCode: code, sessionPresent: false };
}

/** Decodes whole packets (see `framing.ts`) and encodes packets, for one connection. */
export class PacketCodec {
  readonly #parser = mqtt.parser({ protocolVersion: 4 });
  #parsed: Packet[] = [];
  #error: Error | null = null;
  /** The protocol version of the connection (from its CONNECT; 4 before). */
  version = 4;

  /** A codec for a new connection. */
  constructor() {
    this.#parser.on("packet", (p: Packet) => this.#parsed.push(p));
    this.#parser.on("error", (e: Error) => this.#error ??= e);
  }

  /** Decodes one whole packet; throws on a malformed one. */
  decode(bytes: Uint8Array): Packet {
    this.#parsed = [];
    this.#error = null;
    this.#parser.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    if (this.#error) throw this.#error;
    const p = this.#parsed[0];
    if (!p || this.#parsed.length !== 1) throw new Error("not one whole packet");
    return p;
  }

  /** Encodes a packet in the connection's protocol version. */
  encode(packet: Packet): Uint8Array {
    return mqtt.generate(packet, { protocolVersion: this.version });
  }
}

/** Bytes as a Node Buffer without copying (mqtt-packet writes payloads with `copy`). */
export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
