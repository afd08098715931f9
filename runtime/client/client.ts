/**
 * The TypeScript client: one WebSocket (subprotocol `arqon.v1.proto`), publishes
 * coalesced into batch frames per event-loop turn, awaitable acks, subscriptions as
 * async iterators, request/reply, and automatic reconnect with resubscription.
 *
 * This file is the facade and the connection's lifecycle (open, lose, reconnect); the
 * socket and hello are in connection.ts, inbound routing in dispatch.ts, open calls in
 * pending.ts, outbound batching in outbox.ts and frame building in frames.ts.
 * @module
 */
import { AckMode, BusError, encodeFrame, type IPulse, writePublishFrame } from "../protocol/mod.ts";
import { handshake } from "./connection.ts";
import { dial } from "./dial.ts";
import { FrameDispatch } from "./dispatch.ts";
import {
  ackModeOf,
  anycastTarget,
  historyFrame,
  pulseOf,
  requestFrame,
  subscribeFrame,
} from "./frames.ts";
import type {
  ConnectOptions,
  HistoryOptions,
  PublishAck,
  PublishOptions,
  RequestOptions,
} from "./options.ts";
import { Outbox } from "./outbox.ts";
import { ConsumedClock } from "./consumed.ts";
import { PendingCalls } from "./pending.ts";
import { ClientSubscription, type SubscribeOptions } from "./subscription.ts";

/** `Lane.LANE_CRITICAL` of the protocol. */
const LANE_CRITICAL = 2;

const RESOLVED = Promise.resolve(undefined);
/** Default first reconnect delay, ms. */
const RECONNECT_DELAY_MS = 100;
/** Reconnect delays double up to this, ms. */
const MAX_RECONNECT_DELAY_MS = 5000;

/**
 * A connection to an ArqonBus node; lives until `close()`. After an unexpected close it
 * reconnects (unless `reconnect: false`) and resubscribes, resuming each subscription
 * after the last pulse it saw.
 *
 * @example Publish, subscribe and request
 * ```ts
 * import { ArqonClient, startNode } from "@arqon/bus";
 *
 * const node = await startNode({ port: 0, memory: true, log: "quiet" });
 * const client = await ArqonClient.connect(node.wsUrl, { name: "example" });
 *
 * const sub = client.subscribe("sensors.>");
 * await sub.ready;
 * const ack = await client.publish("sensors.kitchen.temp", JSON.stringify({ c: 21.5 }));
 * console.log(`stored as #${ack?.sequence}`);
 * for await (const pulse of sub) {
 *   console.log(pulse.topic, new TextDecoder().decode(pulse.payload!));
 *   break; // leaving the loop closes the subscription
 * }
 *
 * await client.close();
 * await node.shutdown();
 * ```
 */
export class ArqonClient {
  /** The nodes' WebSocket URLs, in the order tried (one node, or several of a cluster). */
  readonly urls: readonly string[];
  #at = 0;
  /** Welcomed once: only then does a lost connection reconnect (a failed connect rejects). */
  #started = false;
  readonly #options: ConnectOptions;
  #ws!: WebSocket;
  readonly #outbox: Outbox;
  // Whether the batch being built holds critical publishes (they travel apart: `publish`).
  #batchCritical = false;
  readonly #pending = new PendingCalls();
  readonly #subs = new Map<number, ClientSubscription>();
  readonly #dispatch: FrameDispatch;
  readonly #consumed: ConsumedClock | undefined;
  #nextSubscription = 1;
  #closedByUser = false;
  #connected: Promise<void> = Promise.resolve();
  #reconnectDelay: number;
  #welcomed = false;
  /** Session id the node assigned (changes on reconnect). */
  sessionId = "";
  /** Times the client reconnected. */
  reconnects = 0;

  private constructor(urls: readonly string[], options: ConnectOptions) {
    this.urls = urls;
    this.#options = options;
    this.#reconnectDelay = options.reconnectDelayMs ?? RECONNECT_DELAY_MS;
    this.#outbox = new Outbox(options.maxBatchBytes);
    this.#consumed = options.reportConsumed === false ? undefined : new ConsumedClock();
    this.#dispatch = new FrameDispatch(
      this.#subs,
      this.#pending,
      (frame) => this.#outbox.enqueue(frame),
      options,
      this.#consumed,
    );
  }

  /**
   * Connects to a node, e.g. `ws://127.0.0.1:7420/v1/ws`, and completes the hello. A node
   * with a raw TCP listener (`--tcp-port`) is reached at `tcp://host:port`, or
   * `tls://host:port` when it has a certificate (`caCerts` for a private CA).
   * Rejects with a `BusError` when the node refuses the client (e.g. `UNAUTHENTICATED`)
   * or the connection closes first.
   *
   * @example Connect with a name and a token
   * ```ts
   * import { ArqonClient, startNode } from "@arqon/bus";
   *
   * const node = await startNode({ port: 0, memory: true, log: "quiet" });
   * // A deployed node: "ws://127.0.0.1:7420/v1/ws"; pass `token` when it requires auth.
   * const client = await ArqonClient.connect(node.wsUrl, {
   *   name: "billing",
   *   token: Deno.env.get("ARQON_TOKEN"),
   *   onError: (error) => console.error(error.code, error.message),
   * });
   * console.log(client.sessionId !== ""); // true: the node welcomed us
   * await client.close();
   * await node.shutdown();
   * ```
   */
  static async connect(
    url: string | readonly string[],
    options: ConnectOptions = {},
  ): Promise<ArqonClient> {
    const urls = typeof url === "string" ? [url] : [...url];
    if (urls.length === 0) throw new BusError("INVALID_ARGUMENT", "connect needs a node URL");
    const client = new ArqonClient(urls, options);
    // A cluster's nodes in turn: the first that welcomes the client is used.
    for (let i = 0;; i++) {
      client.#at = i;
      try {
        await client.#open();
        client.#started = true;
        return client;
      } catch (err) {
        if (i === urls.length - 1) throw err;
      }
    }
  }

  /** The URL of the node the client is connected (or connecting) to. */
  get url(): string {
    return this.urls[this.#at];
  }

  async #open(): Promise<void> {
    const dialed = dial(this.url, this.#options);
    const ws = dialed instanceof Promise ? await dialed : dialed;
    this.#ws = ws;
    this.#outbox.socket = ws;
    const welcomed = handshake(ws, this.#options, this.#dispatch, {
      onWelcome: (sessionId) => {
        this.sessionId = sessionId;
        this.#welcomed = true;
      },
      onError: (error) => this.#options.onError?.(error),
      onClose: (code, reason) => this.#onClose(code, reason),
    });
    this.#connected = welcomed;
    return await welcomed;
  }

  #onClose(code: number, reason: string): void {
    this.#welcomed = false;
    const error = new BusError("INTERNAL", `connection lost (${code} ${reason})`);
    this.#pending.failCalls(error);
    this.#outbox.clear();
    if (!this.#started) return;
    if (this.#closedByUser || this.#options.reconnect === false) {
      for (const sub of this.#subs.values()) sub.confirm(error);
      return;
    }
    // Several nodes (a cluster): the next one is tried; subscriptions resume there after
    // the last sequence seen, which every node of the cluster shares.
    this.#at = (this.#at + 1) % this.urls.length;
    const delay = this.#reconnectDelay;
    this.#reconnectDelay = Math.min(delay * 2, MAX_RECONNECT_DELAY_MS);
    setTimeout(() => this.#reconnect(), delay);
  }

  async #reconnect(): Promise<void> {
    if (this.#closedByUser) return;
    try {
      await this.#open();
    } catch {
      return; // onclose schedules the next attempt
    }
    this.reconnects++;
    this.#reconnectDelay = this.#options.reconnectDelayMs ?? RECONNECT_DELAY_MS;
    for (const sub of this.#subs.values()) {
      sub.rearm();
      this.#sendSubscribe(sub);
    }
  }

  /**
   * Publishes a pulse. With `ack: "received"` (default) or `"durable"` the promise
   * resolves with the node's id and sequence, or rejects with a `BusError`; with
   * `ack: "none"` it resolves with `undefined` at once.
   */
  publish(
    topic: string,
    payload: Uint8Array | string,
    options: PublishOptions = {},
  ): Promise<PublishAck | undefined> {
    const ack = ackModeOf(options.ack);
    const correlationId = ack === AckMode.NONE ? 0 : this.#pending.nextId();
    const pulse = pulseOf(topic, payload, options);
    const anycast = anycastTarget(options.anycast);
    // Vector clocks: what this client consumed so far makes the pulse causally after it.
    const consumed = this.#consumed?.report();
    // Critical publishes leave in a message of their own: the node schedules a received
    // message by its first publish's lane, so one behind bulk publishes in a shared message
    // would wait in the bulk lane, and bulk ones after it would ride in the critical one.
    const critical = pulse.lane === LANE_CRITICAL;
    if (critical !== this.#batchCritical) {
      this.#outbox.flush();
      this.#batchCritical = critical;
    }
    // Encoded straight into the outgoing batch (protobufjs for what the fast path lacks).
    if (anycast || !writePublishFrame(this.#outbox, correlationId, ack, pulse, consumed)) {
      this.#outbox.enqueue(
        encodeFrame({ publish: { correlationId, ack, pulse, anycast, consumed } }),
      );
    }
    if (ack === AckMode.NONE) return RESOLVED;
    return this.#pending.ack(correlationId);
  }

  /** Subscribes to a topic pattern (`*` one segment, `>` the rest). */
  subscribe(pattern: string, options: SubscribeOptions = {}): ClientSubscription {
    const id = this.#nextSubscription++;
    const sub = new ClientSubscription(id, pattern, options, {
      grant: (subscriptionId, count) =>
        this.#outbox.enqueue(encodeFrame({ credit: { subscriptionId, count } })),
      unsubscribe: (subscriptionId) => {
        this.#subs.delete(subscriptionId);
        this.#outbox.enqueue(encodeFrame({ unsubscribe: { subscriptionId } }));
      },
    });
    this.#subs.set(id, sub);
    this.#sendSubscribe(sub);
    return sub;
  }

  #sendSubscribe(sub: ClientSubscription): void {
    const correlationId = this.#pending.nextId();
    this.#pending.subscribing(correlationId, sub);
    this.#outbox.enqueue(subscribeFrame(sub, correlationId));
  }

  /**
   * Reads stored pulses of a reality (`history.get`) in sequence order. Bounds are
   * inclusive and optional; times are HLC wall ms. Rejects with a `BusError`.
   */
  history(query: HistoryOptions = {}): Promise<IPulse[]> {
    const correlationId = this.#pending.nextId();
    this.#outbox.enqueue(historyFrame(correlationId, query));
    return this.#pending.history(correlationId);
  }

  /** Sends a request and resolves with the first reply, or rejects (`TIMEOUT`, `NO_RESPONDERS`). */
  request(
    topic: string,
    payload: Uint8Array | string,
    options: RequestOptions = {},
  ): Promise<IPulse> {
    const correlationId = this.#pending.nextId();
    const pulse = pulseOf(topic, payload, options);
    this.#outbox.enqueue(
      requestFrame(
        correlationId,
        pulse,
        options.timeoutMs ?? 0,
        false,
        anycastTarget(options.anycast),
      ),
    );
    return this.#pending.reply(correlationId);
  }

  /**
   * Sends a streamed request: yields every reply until the responder's final one (a
   * responder that knows nothing of streams answers once, which ends it). `timeoutMs` is
   * the longest wait between two replies. Throws the request's `BusError` (`TIMEOUT`,
   * `NO_RESPONDERS`, `QUOTA_EXCEEDED` past the node's stream bounds, a responder's typed
   * error) from the loop.
   *
   * @example Print a job's progress
   * ```ts ignore
   * for await (const reply of client.requestStream("nvm.job.submit", JSON.stringify(job))) {
   *   console.log(new TextDecoder().decode(reply.payload!));
   * }
   * ```
   */
  requestStream(
    topic: string,
    payload: Uint8Array | string,
    options: RequestOptions = {},
  ): AsyncIterableIterator<IPulse> {
    const correlationId = this.#pending.nextId();
    const pulse = pulseOf(topic, payload, options);
    const stream = this.#pending.stream(correlationId);
    this.#outbox.enqueue(requestFrame(correlationId, pulse, options.timeoutMs ?? 0, true));
    return stream;
  }

  /**
   * Answers a request pulse received through a subscription. `final: false` marks a
   * non-final reply of a streamed request (header `arqon-reply: more`): its requester waits
   * for more. A plain request ends at its first reply, final or not.
   */
  reply(
    request: IPulse,
    payload: Uint8Array | string,
    options: PublishOptions & { final?: boolean } = {},
  ): Promise<PublishAck | undefined> {
    if (!request.replyTo) throw new BusError("INVALID_ARGUMENT", "the pulse is not a request");
    const { final, ...rest } = options;
    return this.publish(request.replyTo, payload, {
      ack: "none",
      ...rest,
      headers: final === false ? { ...rest.headers, "arqon-reply": "more" } : rest.headers,
      reality: request.realityId ?? options.reality,
    });
  }

  /** Bytes written but not yet sent to the network (for publishers pacing themselves). */
  get bufferedAmount(): number {
    return this.#outbox.bytes + (this.#ws?.bufferedAmount ?? 0);
  }

  /**
   * Resolves once the client's outbound buffers hold at most `lowWaterBytes` (default 0:
   * everything published so far has been handed to the network). Publishers pace
   * themselves with it.
   */
  async drain(lowWaterBytes = 0): Promise<void> {
    this.#outbox.flush();
    while (this.#ws.readyState === WebSocket.OPEN && this.#ws.bufferedAmount > lowWaterBytes) {
      await new Promise((r) => setTimeout(r, 1));
    }
  }

  /**
   * Round trip to the node: resolves once the node has processed every frame sent before
   * (a ping answered in order). Publishers use it to pace themselves, like NATS `flush()`.
   */
  flush(): Promise<void> {
    const nonce = this.#pending.nextId();
    const done = this.#pending.pong(nonce);
    this.#outbox.enqueue(encodeFrame({ ping: { nonce } }));
    return done;
  }

  /** Whether the client is welcomed on an open connection now (false while reconnecting). */
  get isConnected(): boolean {
    return this.#welcomed && this.#ws?.readyState === WebSocket.OPEN;
  }

  /** Waits for the current connection (after a reconnect) to be established. */
  connected(): Promise<void> {
    return this.#connected;
  }

  /** Closes the connection for good. */
  close(): Promise<void> {
    this.#closedByUser = true;
    this.#outbox.flush();
    if (this.#ws.readyState === WebSocket.CLOSED) return Promise.resolve();
    const closed = new Promise<void>((resolve) =>
      this.#ws.addEventListener("close", () => resolve())
    );
    this.#ws.close(1000, "client closing");
    return closed;
  }
}
