/**
 * Acknowledged JetStream publishes, lighter than `js.publish` per pulse: one reply
 * subscription for all of them (`<inbox>.<n>`) and one timer sweeping the late ones, not a
 * request, a timer and a PubAck object each. Same wire: a publish with a reply subject and
 * the message id header, answered by the stream's leader with `{"stream","seq"}` or
 * `{"error"}`. A publish retries with the same message id (JetStream stores it once) while
 * its stream elects a leader, then fails with CLUSTER_UNAVAILABLE.
 * @module
 */
import {
  createInbox,
  headers,
  type Msg,
  type Subscription as NatsSubscription,
} from "@nats-io/transport-node";
import { BusError } from "../protocol/mod.ts";
import type { ClusterConnection } from "./connect.ts";

/** How long an acknowledged publish may take; every field has a default. */
export interface PublisherOptions {
  /**
   * How long a publish keeps retrying before it fails with CLUSTER_UNAVAILABLE.
   * @default {15000}
   */
  readonly retryMs?: number;
  /**
   * Wait for one JetStream acknowledgement before retrying.
   * @default {2000}
   */
  readonly ackTimeoutMs?: number;
}

/** A publish the cluster could not store, as the refusal callers get. */
export function clusterUnavailable(what: string, err: unknown): BusError {
  return new BusError(
    "CLUSTER_UNAVAILABLE",
    `${what}: not stored in the cluster (${(err as Error)?.message ?? err})`,
  );
}

/** The acknowledged publishes of one node. */
export class AckedPublisher {
  readonly #conn: ClusterConnection;
  readonly #retryMs: number;
  readonly #ackTimeoutMs: number;
  #inbox = "";
  #sub: NatsSubscription | undefined;
  #next = 0;
  readonly #awaiting = new Map<
    number,
    { resolve(seq: number): void; reject(err: Error): void; at: number }
  >();
  #sweep: ReturnType<typeof setInterval> | undefined;
  #closed = false;
  /** Publishes acknowledged by JetStream. */
  stored = 0;
  /** Publishes refused with CLUSTER_UNAVAILABLE. */
  refused = 0;

  constructor(conn: ClusterConnection, options: PublisherOptions = {}) {
    this.#conn = conn;
    this.#retryMs = options.retryMs ?? 15_000;
    this.#ackTimeoutMs = options.ackTimeoutMs ?? 2_000;
  }

  /** Stores `bytes` on `subject` once (message id `msgID`); resolves to its sequence. */
  async store(subject: string, bytes: Uint8Array, msgID: string): Promise<number> {
    const deadline = Date.now() + this.#retryMs;
    let lastErr: unknown;
    for (let attempt = 0;; attempt++) {
      if (this.#closed) throw new BusError("SHUTTING_DOWN", "the node is shutting down");
      if (!this.#conn.connected) break;
      try {
        const seq = await this.#acked(subject, bytes, msgID);
        this.stored++;
        return seq;
      } catch (err) {
        lastErr = err;
        if (Date.now() >= deadline) break;
        // No leader yet (503), a timeout, a reconnect: the same message id again.
        await new Promise((r) => setTimeout(r, Math.min(50 * 2 ** attempt, 500)));
      }
    }
    this.refused++;
    throw clusterUnavailable(subject, lastErr ?? new Error("disconnected from NATS"));
  }

  /** Fails every publish still waiting; stores no more. */
  close(): void {
    this.#closed = true;
    clearInterval(this.#sweep);
    this.#sub?.unsubscribe();
    for (const waiting of this.#awaiting.values()) {
      waiting.reject(new BusError("SHUTTING_DOWN", "the node is shutting down"));
    }
    this.#awaiting.clear();
  }

  #acked(subject: string, bytes: Uint8Array, msgID: string): Promise<number> {
    if (!this.#sub) {
      this.#inbox = createInbox();
      this.#sub = this.#conn.nc.subscribe(`${this.#inbox}.*`, {
        callback: (err, msg) => {
          if (!err) this.#onAck(msg);
        },
      });
      this.#sweep = setInterval(() => this.#sweepLate(), 250);
    }
    const id = ++this.#next;
    const h = headers();
    h.set("Nats-Msg-Id", msgID);
    return new Promise<number>((resolve, reject) => {
      this.#awaiting.set(id, { resolve, reject, at: Date.now() });
      try {
        this.#conn.nc.publish(subject, bytes, { reply: `${this.#inbox}.${id}`, headers: h });
      } catch (err) {
        this.#awaiting.delete(id);
        reject(err as Error);
      }
    });
  }

  #onAck(msg: Msg): void {
    const id = Number(msg.subject.slice(this.#inbox.length + 1));
    const waiting = this.#awaiting.get(id);
    if (!waiting) return;
    this.#awaiting.delete(id);
    // A 503 status (no responders: no stream leader yet) has no body.
    if (msg.data.length === 0) return waiting.reject(new Error("no responders"));
    try {
      const ack = JSON.parse(new TextDecoder().decode(msg.data));
      if (ack.error) waiting.reject(new Error(ack.error.description ?? "JetStream error"));
      else if (typeof ack.seq === "number") waiting.resolve(ack.seq);
      else waiting.reject(new Error("JetStream answered without a sequence"));
    } catch (err) {
      waiting.reject(err as Error);
    }
  }

  #sweepLate(): void {
    const late = Date.now() - this.#ackTimeoutMs;
    for (const [id, waiting] of this.#awaiting) {
      // Insertion order is publish order: stop at the first one still in time.
      if (waiting.at > late) break;
      this.#awaiting.delete(id);
      waiting.reject(new Error("timeout waiting for JetStream's ack"));
    }
  }
}
