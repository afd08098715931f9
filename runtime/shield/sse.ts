/**
 * Server-Sent Events subscriptions: a subscription whose owner writes each delivery as
 * an SSE event. Writes are awaited, so a slow reader backs up into the subscription's
 * bounded queue, where its overflow policy applies like on any other transport.
 * @module
 */
import type { SSEStreamingApi } from "hono/streaming";
import type { Spine, Subscription, SubscriptionOwner } from "../spine/mod.ts";
import type { NodeMetrics } from "../telemetry/mod.ts";

/** The counters an SSE subscriber updates. */
export type SseMetrics =
  & Pick<NodeMetrics, "delivered" | "disconnects">
  & Partial<Pick<NodeMetrics, "publishToDelivery">>;

/** Drains one subscription into an SSE stream; lives as long as the HTTP response. */
export class SseSubscriber implements SubscriptionOwner {
  readonly #stream: SSEStreamingApi;
  readonly #metrics: SseMetrics;
  #pumping = false;
  #done: () => void = () => {};
  /** Resolves when the stream must end (client gone or overflow disconnect). */
  readonly finished: Promise<void>;
  sub: Subscription | null = null;
  /** Who may answer requests this stream receives, beside nobody (see `reply_guard.ts`). */
  readonly replySubject?: string;

  /** Binds to an open SSE stream; `replySubject` is its client's reply identity. */
  constructor(stream: SSEStreamingApi, metrics: SseMetrics, replySubject?: string) {
    this.#stream = stream;
    this.replySubject = replySubject;
    this.#metrics = metrics;
    this.finished = new Promise((resolve) => this.#done = resolve);
    stream.onAbort(() => this.#done());
  }

  /** SubscriptionOwner: deliveries are waiting. */
  wake(sub: Subscription): void {
    if (this.#pumping) return;
    this.#pumping = true;
    this.#pump(sub).finally(() => this.#pumping = false);
  }

  /** SubscriptionOwner: a `disconnect` subscription overflowed. */
  overflowed(sub: Subscription): void {
    this.#metrics.disconnects.labels(sub.spec.realityId, "slow_consumer").inc();
    this.#stream.writeSSE({
      event: "error",
      data: JSON.stringify({
        error: { code: "SLOW_CONSUMER", message: "subscriber queue overflowed; disconnecting" },
      }),
    }).catch(() => {});
    this.#done();
  }

  async #pump(sub: Subscription): Promise<void> {
    const delivered = this.#metrics.delivered.labels(sub.spec.realityId);
    while (!this.#stream.aborted && (sub.ready || sub.unreportedDrops > 0)) {
      if (sub.unreportedDrops > 0) {
        const dropped = sub.unreportedDrops;
        sub.unreportedDrops = 0;
        await this.#stream.writeSSE({
          event: "error",
          data: JSON.stringify({
            error: {
              code: "SLOW_CONSUMER",
              message: `${dropped} deliveries dropped: subscriber is not keeping up`,
              dropped,
            },
          }),
        });
      }
      const batch = sub.take(256);
      for (const p of batch) {
        await this.#stream.writeSSE({
          // Unsequenced pulses (presence) carry no id: a reconnect resumes after the last
          // sequenced one instead of asking for sequence 0.
          id: p.pulse.sequence ? String(p.pulse.sequence) : undefined,
          event: "pulse",
          data: JSON.stringify(p.json),
        });
        if (p.sampledAt) {
          this.#metrics.publishToDelivery?.labels(sub.spec.realityId)
            .observe((performance.now() - p.sampledAt) / 1000);
        }
      }
      delivered.inc(batch.length);
    }
  }

  /** Releases the subscription. */
  close(spine: Spine): void {
    if (this.sub) spine.unsubscribe(this.sub);
  }
}
