/**
 * TypeScript shapes of the messages in `arqon.proto` (package `arqon.v1`), as protobufjs
 * decodes and encodes them: camelCase fields, uint64 as `number`, bytes as `Uint8Array`,
 * enums as numbers. Every field is optional on input; decoded messages carry defaults.
 * @module
 */

/** Hybrid logical clock reading. */
export interface IHlcTimestamp {
  wallMs?: number;
  logical?: number;
}

/** Spectral metadata of a pulse. */
export interface ISpectral {
  coherence?: number;
  criticality?: number;
  eigenvalues?: number[];
}

/** The envelope of one message. */
export interface IPulse {
  id?: string;
  sequence?: number;
  topic?: string;
  producerId?: string;
  realityId?: string;
  timestamp?: IHlcTimestamp | null;
  traceContext?: Record<string, string>;
  spectral?: ISpectral | null;
  headers?: Record<string, string>;
  contentType?: string;
  payload?: Uint8Array;
  syncId?: string;
  intentVector?: number[];
  entropySeed?: number;
  ghost?: boolean;
  replyTo?: string;
}

/** `AckMode` values. */
export const AckMode = { NONE: 0, RECEIVED: 1, DURABLE: 2 } as const;
/** `StartMode` values. */
export const StartMode = { LIVE: 0, FROM_SEQUENCE: 1, FROM_TIME: 2 } as const;
/** `OverflowPolicy` values. */
export const OverflowPolicy = { DEFAULT: 0, DROP_OLDEST: 1, DROP_NEW: 2, DISCONNECT: 3 } as const;

/** `ErrorCode` values, by their names without the `ERROR_CODE_` prefix. */
export const ErrorCode = {
  UNSPECIFIED: 0,
  INVALID_FRAME: 1,
  UNKNOWN_FRAME: 2,
  INVALID_UTF8: 3,
  INVALID_TOPIC: 4,
  INVALID_PATTERN: 5,
  FRAME_TOO_LARGE: 6,
  TOO_MANY_SUBSCRIPTIONS: 7,
  SLOW_CONSUMER: 8,
  NO_RESPONDERS: 9,
  TIMEOUT: 10,
  UNAUTHORIZED: 11,
  FORBIDDEN: 12,
  RATE_LIMITED: 13,
  POLICY_DENIED: 14,
  NOT_FOUND: 15,
  INTERNAL: 16,
  UNSUPPORTED_VERSION: 17,
  PROTOCOL_VIOLATION: 18,
  INVALID_ARGUMENT: 19,
  STORAGE_FAILED: 20,
  QUOTA_EXCEEDED: 21,
  SHUTTING_DOWN: 22,
  UNSUPPORTED_SUBPROTOCOL: 23,
} as const;
/** A name of an `ErrorCode` without its prefix, e.g. `INVALID_TOPIC`. */
export type ErrorCodeName = keyof typeof ErrorCode;

/** Client greeting. */
export interface IHello {
  clientName?: string;
  protocolVersion?: number;
  capabilities?: string[];
  token?: string;
  /** `did:key` of an agent authenticating by challenge-response. */
  did?: string;
  /** The challenge nonce being answered. */
  nonce?: Uint8Array;
  /** The agent's signature over the challenge message. */
  signature?: Uint8Array;
}
/** A DID challenge: sign it and send a second hello. */
export interface IChallenge {
  nonce?: Uint8Array;
  nodeId?: string;
  expiresAtMs?: number;
}
/** Node greeting. */
export interface IWelcome {
  nodeId?: string;
  protocolVersion?: number;
  capabilities?: string[];
  sessionId?: string;
  maxFrameBytes?: number;
}
/** Publish one pulse. */
export interface IPublish {
  correlationId?: number;
  ack?: number;
  pulse?: IPulse | null;
}
/** Acknowledgement of a publish. */
export interface IAck {
  correlationId?: number;
  id?: string;
  sequence?: number;
  realityId?: string;
}
/** Open a subscription. */
export interface ISubscribe {
  subscriptionId?: number;
  realityId?: string;
  pattern?: string;
  queueGroup?: string;
  start?: number;
  fromSequence?: number;
  fromTimeMs?: number;
  maxInFlight?: number;
  overflow?: number;
  maxQueueMessages?: number;
  maxQueueBytes?: number;
  correlationId?: number;
}
/** Confirms a subscription. */
export interface ISubscribed {
  correlationId?: number;
  subscriptionId?: number;
}
/** Close a subscription. */
export interface IUnsubscribe {
  subscriptionId?: number;
}
/** Grant deliveries to a flow-controlled subscription. */
export interface ICredit {
  subscriptionId?: number;
  count?: number;
}
/** One delivered pulse. */
export interface IDeliver {
  subscriptionId?: number;
  pulse?: IPulse | null;
}
/** Request/reply call. */
export interface IRequest {
  correlationId?: number;
  pulse?: IPulse | null;
  timeoutMs?: number;
}
/** The answer to a request. */
export interface IReply {
  correlationId?: number;
  pulse?: IPulse | null;
}
/** A typed error. */
export interface IError {
  code?: number;
  message?: string;
  correlationId?: number;
  subscriptionId?: number;
  dropped?: number;
}
/** Liveness probe. */
export interface IPing {
  nonce?: number;
}
/** Liveness answer. */
export interface IPong {
  nonce?: number;
}
/** Many frames in one transport message. */
export interface IBatch {
  frames?: IFrame[];
}
/** A history query (`history.get`); 0 leaves a bound open. */
export interface IHistoryGet {
  correlationId?: number;
  realityId?: string;
  pattern?: string;
  fromSequence?: number;
  toSequence?: number;
  fromTimeMs?: number;
  toTimeMs?: number;
  limit?: number;
}
/** One page of a history answer. */
export interface IHistoryChunk {
  correlationId?: number;
  pulses?: IPulse[];
  done?: boolean;
}
/** One protocol frame: exactly one member is set. */
export interface IFrame {
  hello?: IHello | null;
  welcome?: IWelcome | null;
  publish?: IPublish | null;
  ack?: IAck | null;
  subscribe?: ISubscribe | null;
  subscribed?: ISubscribed | null;
  unsubscribe?: IUnsubscribe | null;
  deliver?: IDeliver | null;
  request?: IRequest | null;
  reply?: IReply | null;
  error?: IError | null;
  ping?: IPing | null;
  pong?: IPong | null;
  batch?: IBatch | null;
  credit?: ICredit | null;
  historyGet?: IHistoryGet | null;
  historyChunk?: IHistoryChunk | null;
  challenge?: IChallenge | null;
  /** The name of the member that is set (present on decoded frames). */
  kind?: string;
}
