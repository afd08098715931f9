/**
 * Calls waiting for the node's answer, by correlation id: publish acks, request replies,
 * streamed requests' replies, history reads, pings and subscribe confirmations. The node answers each with one frame
 * (or an error frame carrying the same correlation id); a lost connection fails them.
 * @module
 */
import type { BusError, IAck, IHistoryChunk, IPulse } from "../protocol/mod.ts";
import type { PublishAck } from "./options.ts";
import type { ClientSubscription } from "./subscription.ts";
import { ReplyStream } from "./reply_stream.ts";

interface Pending<T> {
  resolve: (value: T) => void;
  reject: (error: Error) => void;
}

/** The open calls of one client, across reconnects. */
export class PendingCalls {
  #nextCorrelation = 1;
  #acks = new Map<number, Pending<PublishAck>>();
  #requests = new Map<number, Pending<IPulse>>();
  #pings = new Map<number, Pending<undefined>>();
  #histories = new Map<number, Pending<IPulse[]> & { pulses: IPulse[] }>();
  #subscribes = new Map<number, ClientSubscription>();
  #streams = new Map<number, ReplyStream>();

  /** A fresh correlation id (also used as ping nonce). */
  nextId(): number {
    return this.#nextCorrelation++;
  }

  /** Waits for the ack of publish `correlationId`. */
  ack(correlationId: number): Promise<PublishAck> {
    return new Promise((resolve, reject) => this.#acks.set(correlationId, { resolve, reject }));
  }

  /** Waits for the reply to request `correlationId`. */
  reply(correlationId: number): Promise<IPulse> {
    return new Promise((resolve, reject) => this.#requests.set(correlationId, { resolve, reject }));
  }

  /** Collects the replies of streamed request `correlationId` until its final one. */
  stream(correlationId: number): ReplyStream {
    const stream = new ReplyStream(() => this.#streams.delete(correlationId));
    this.#streams.set(correlationId, stream);
    return stream;
  }

  /** Waits for every chunk of history read `correlationId`. */
  history(correlationId: number): Promise<IPulse[]> {
    return new Promise((resolve, reject) =>
      this.#histories.set(correlationId, { resolve, reject, pulses: [] })
    );
  }

  /** Waits for the pong of ping `nonce`. */
  pong(nonce: number): Promise<undefined> {
    return new Promise<undefined>((resolve, reject) => this.#pings.set(nonce, { resolve, reject }));
  }

  /** Remembers which subscription subscribe `correlationId` confirms. */
  subscribing(correlationId: number, sub: ClientSubscription): void {
    this.#subscribes.set(correlationId, sub);
  }

  /** An ack arrived. */
  settleAck(ack: IAck): void {
    const c = ack.correlationId ?? 0;
    const p = this.#acks.get(c);
    if (!p) return;
    this.#acks.delete(c);
    p.resolve({ id: ack.id ?? "", sequence: ack.sequence ?? 0, reality: ack.realityId ?? "" });
  }

  /**
   * A reply arrived: to a streamed request (kept until `final`) or to a plain one. A reply
   * whose correlation id no call waits for is dropped.
   */
  settleReply(correlationId: number, pulse: IPulse, final = true): void {
    const stream = this.#streams.get(correlationId);
    if (stream) return stream.push(pulse, final);
    const p = this.#requests.get(correlationId);
    this.#requests.delete(correlationId);
    p?.resolve(pulse);
  }

  /** A history chunk arrived; the last one (`done`) settles the read. */
  historyChunk(chunk: IHistoryChunk): void {
    const c = chunk.correlationId ?? 0;
    const h = this.#histories.get(c);
    if (!h) return;
    for (const p of chunk.pulses ?? []) h.pulses.push(p);
    if (chunk.done) {
      this.#histories.delete(c);
      h.resolve(h.pulses);
    }
  }

  /** A pong arrived. */
  settlePong(nonce: number): void {
    const waiter = this.#pings.get(nonce);
    this.#pings.delete(nonce);
    waiter?.resolve(undefined);
  }

  /** A subscribe was confirmed: the subscription it belongs to, if still waiting. */
  subscribed(correlationId: number): ClientSubscription | undefined {
    const sub = this.#subscribes.get(correlationId);
    this.#subscribes.delete(correlationId);
    return sub;
  }

  /** Rejects the publish, request or history read `correlationId`; false if none waits. */
  fail(correlationId: number, error: BusError): boolean {
    const c = correlationId;
    const stream = this.#streams.get(c);
    if (stream) {
      stream.fail(error);
      return true;
    }
    const pending = this.#acks.get(c) ?? this.#requests.get(c) ?? this.#histories.get(c);
    if (!pending) return false;
    this.#acks.delete(c);
    this.#requests.delete(c);
    this.#histories.delete(c);
    pending.reject(error);
    return true;
  }

  /**
   * The connection was lost: publishes, requests (streamed too) and history reads fail (their answers
   * cannot arrive on another connection). Pings and subscribes stay: a subscription is
   * sent again after a reconnect.
   */
  failCalls(error: BusError): void {
    for (const p of this.#acks.values()) p.reject(error);
    for (const p of this.#requests.values()) p.reject(error);
    for (const p of this.#histories.values()) p.reject(error);
    for (const s of [...this.#streams.values()]) s.fail(error);
    this.#acks.clear();
    this.#requests.clear();
    this.#histories.clear();
  }
}
