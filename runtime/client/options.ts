/**
 * The options and results of the client's calls: connect, publish, request, history.
 * @module
 */
import type { BusError, IPulse } from "../protocol/mod.ts";
import type { AgentIdentity } from "../identity/mod.ts";

/** A card, as `ConnectOptions.card` takes it (see `docs/operators.md`, "Cards and schemas"). */
export interface ClientCard {
  /** What the agent can do. */
  capabilities: string[];
  /** JSON Schema (2020-12) of what it consumes. */
  input_schema?: Record<string, unknown> | boolean;
  /** JSON Schema (2020-12) its publishes must match. */
  output_schema?: Record<string, unknown> | boolean;
  /** The realities whose agent list shows it (default `["default"]`). */
  realities?: string[];
}

/** Options of `ArqonClient.connect`. */
export interface ConnectOptions {
  /**
   * Client name, the producer id of its pulses.
   * @default {""}
   */
  name?: string;
  /**
   * Bearer token for nodes that require authentication.
   * @default {""}
   */
  token?: string;
  /**
   * A `did:key` identity: the client answers the node's challenge with it (no token needed).
   * @default {undefined}
   */
  identity?: AgentIdentity;
  /**
   * The agent's card (SAM handshake), sent in the hello as JSON text: its capabilities
   * and the JSON Schemas (2020-12) of what it consumes and produces. With an
   * `output_schema` the node refuses every publish whose payload does not match it
   * (`SCHEMA_VIOLATION`); an invalid card refuses the connection (`INVALID_ARGUMENT`).
   * @default {undefined}
   */
  card?: ClientCard | string;
  /**
   * Reconnect after an unexpected close.
   * @default {true}
   */
  reconnect?: boolean;
  /**
   * Report with each publish the vector clock of what this client consumed (deliveries and
   * its acknowledged publishes: `Publish.consumed`), so the node stamps the new pulse as
   * causally after them (docs/time.md "Vector clocks").
   * @default {true}
   */
  reportConsumed?: boolean;
  /**
   * First reconnect delay in ms; doubles after each failed attempt, up to 5 s.
   * @default {100}
   */
  reconnectDelayMs?: number;
  /**
   * Target size of one outbound batch message, in bytes.
   * @default {262144}
   */
  maxBatchBytes?: number;
  /**
   * Called for node errors that concern no particular call.
   * @default {undefined}
   */
  onError?: (error: BusError) => void;
  /**
   * For `ws://` URLs, use our WebSocket over `Deno.connect` with TCP_NODELAY instead of
   * the runtime's, which leaves Nagle's algorithm on: publishers streaming small batches
   * then wait on delayed ACKs (p50 7 ms instead of 0.4 ms at 5k msg/s, measured here).
   * Off by default while its behaviour under abrupt node deaths is being hardened.
   * @default {false}
   */
  noDelay?: boolean;
  /**
   * PEM CA certificates trusted for `tls://` URLs (the node's raw TCP listener with
   * TLS), besides the system's: for a node with a private CA.
   * @default {undefined}
   */
  caCerts?: string[];
}

/** Options of `ArqonClient.publish`. */
export interface PublishOptions {
  /**
   * Reality to publish in; empty means the node's `default` reality.
   * @default {"default"}
   */
  reality?: string;
  /**
   * `none` (fire and forget), `received` (the node accepted it) or `durable` (the node
   * stored it).
   * @default {"received"}
   */
  ack?: "none" | "received" | "durable";
  /**
   * Application headers carried with the pulse.
   * @default {undefined}
   */
  headers?: Record<string, string>;
  /**
   * MIME type of the payload, e.g. `application/json`.
   * @default {""}
   */
  contentType?: string;
  /**
   * W3C trace context (`traceparent`, `tracestate`).
   * @default {undefined}
   */
  traceContext?: Record<string, string>;
  /**
   * Extra envelope fields (spectral, intent vector, entropy seed, ghost, ...).
   * @default {undefined}
   */
  pulse?: Omit<IPulse, "topic" | "payload" | "realityId">;
  /**
   * Semantic anycast: deliver only to the `k` anycast subscribers of the topic whose
   * embeddings are nearest to `vector` (the reality's dimension); none: `NO_RESPONDERS`.
   * @default {undefined} a plain publish
   */
  anycast?: { vector: ArrayLike<number>; k?: number };
}

/** A history query of `ArqonClient.history`. */
export interface HistoryOptions {
  /**
   * Reality to read.
   * @default {"default"}
   */
  reality?: string;
  /**
   * Topic pattern (`*` one segment, `>` the rest); empty reads every topic.
   * @default {""}
   */
  pattern?: string;
  /**
   * First sequence to return (inclusive); 0 for the oldest stored.
   * @default {0}
   */
  fromSequence?: number;
  /**
   * Last sequence to return (inclusive); 0 for the newest stored.
   * @default {0}
   */
  toSequence?: number;
  /**
   * Lower HLC wall-time bound, ms, inclusive; 0 for none.
   * @default {0}
   */
  fromTimeMs?: number;
  /**
   * Upper HLC wall-time bound, ms, inclusive; 0 for none.
   * @default {0}
   */
  toTimeMs?: number;
  /**
   * At most this many pulses; 0 for the node's limit.
   * @default {0}
   */
  limit?: number;
}

/** What an acknowledged publish returns. */
export interface PublishAck {
  /** The pulse's id (UUIDv7) assigned by the node. */
  id: string;
  /** Its sequence in its reality's log. */
  sequence: number;
  /** The reality it was published in. */
  reality: string;
}

/** Options of `ArqonClient.request`. */
export interface RequestOptions extends Omit<PublishOptions, "ack"> {
  /**
   * Timeout in ms; 0 takes the node's default (5000).
   * @default {0}
   */
  timeoutMs?: number;
}
