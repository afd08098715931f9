/**
 * What a session sends: its control frames (acks, errors, pongs...) and its
 * subscriptions' deliveries, batched into as few transport messages as the batch size
 * allows. Writing stops while the transport holds more than the high-water mark (the
 * subscription queues then fill, and overflow by their own policy) and resumes once it
 * drained.
 * @module
 */
import {
  BusError,
  type ErrorCodeName,
  errorCodeValue,
  type FrameCodec,
  type IFrame,
  type OutboundBatch,
  type WireFormat,
} from "../protocol/mod.ts";
import type { StampedPulse, Subscription } from "../spine/mod.ts";
import type { NodeMetrics, PulseTracer } from "../telemetry/mod.ts";
import type { Transport } from "../transport/mod.ts";
import type { Resumable, StallWatch } from "./stall_watch.ts";
import { CausalGate } from "./causal_gate.ts";

/** A binary batch, which a transport can have written into its own buffer. */
type EncodedOutbound = OutboundBatch & {
  readonly encodedLength: number;
  finishInto(buf: Uint8Array, at: number): void;
};

// Deliveries taken from one subscription before moving to the next (fairness).
const TAKE_PER_TURN = 256;

// Sessions using lanes write bulk deliveries only while the transport holds less than the
// high-water mark divided by this (256 KiB of the default 4 MiB).
const BULK_HIGH_WATER_DIVISOR = 16;

// How often a stalled outbox re-checks the transport when nothing else wakes it.
const STALL_POLL_MS = 2;

// How often a causal gate holding pulses re-checks them when nothing else wakes it: a
// dependency may be sequenced without any of this connection's subscriptions matching it.
const CAUSAL_POLL_MS = 10;

/** Decides which deliveries of a subscription the connection's principal may see. */
export interface DeliveryFilter {
  /** Whether a pulse on `topic` may be delivered. */
  canReceive(topic: string): boolean;
}

/** The options an outbox reads. */
export interface OutboxOptions {
  /** Transport-buffered bytes above which the outbox stops writing. */
  readonly highWaterBytes: number;
  /** Target size of one outbound message (protobuf; JSON has fixed bounds). */
  readonly maxBatchBytes: number;
  /**
   * Pulses a connection's causal gate holds at most (docs/time.md).
   * @default {4096}
   */
  readonly causalMaxHeld?: number;
  /**
   * Bytes a connection's causal gate holds at most.
   * @default {8388608}
   */
  readonly causalMaxHeldBytes?: number;
}

/** What an outbox works with; lives as long as its session. */
export interface OutboxContext {
  /** The connection written to. */
  readonly transport: Transport;
  /** The session's wire format. */
  readonly codec: FrameCodec;
  /** High-water mark and batch size. */
  readonly options: OutboxOptions;
  /** The node's metrics. */
  readonly metrics: NodeMetrics;
  /** Where a stalled outbox waits to be resumed. */
  readonly stalls?: StallWatch;
  /** Records delivery spans (`--otel-endpoint`); undefined: tracing off. */
  readonly tracer?: PulseTracer;
  /** A filter for subscriptions whose pattern overlaps a denied topic; else undefined. */
  readonly filterOf: (sub: Subscription) => DeliveryFilter | undefined;
  /** The last sequence a reality reached (causal subscriptions); 0 when unknown. */
  readonly sequenceOf?: (realityId: string) => number;
}

/** The outbound side of one session. */
export class Outbox implements Resumable {
  readonly #ctx: OutboxContext;
  readonly #transport: Transport;
  #control: IFrame[] = [];
  // Created on first use: an idle connection holds neither (memory per connection).
  #readySet: Set<Subscription> | undefined;
  #deliveredMap: Map<string, { inc(n: number): void }> | undefined;
  get #ready(): Set<Subscription> {
    return this.#readySet ??= new Set();
  }
  get #delivered(): Map<string, { inc(n: number): void }> {
    return this.#deliveredMap ??= new Map();
  }
  #scheduled = false;
  #lanes = false;
  #stallTimer: ReturnType<typeof setTimeout> | undefined;
  // The stall is for bulk only: the transport holds more than the bulk mark but less than
  // the high-water mark, so critical and normal deliveries may still be written.
  #bulkStall = false;
  #ended = false;
  // Created with the first causal subscription: other sessions pay one undefined check.
  #gate: CausalGate | undefined;
  #gateTimer: ReturnType<typeof setTimeout> | undefined;

  /** Creates an empty outbox. */
  constructor(ctx: OutboxContext) {
    this.#ctx = ctx;
    this.#transport = ctx.transport;
  }

  /** The session's wire format. */
  get format(): WireFormat {
    return this.#ctx.codec.format;
  }

  /** Whether control frames wait to be sent. */
  get pending(): boolean {
    return this.#control.length > 0;
  }

  /** Queues a control frame; it goes out with the next flush. */
  send(frame: IFrame): void {
    this.#control.push(frame);
    this.#schedule();
  }

  /** Queues an error frame (and counts it). */
  error(code: ErrorCodeName, message: string, correlationId = 0): void {
    this.#ctx.metrics.errors.labels(this.#transport.kind, code).inc();
    this.send({ error: { code: errorCodeValue(code), message, correlationId } });
  }

  /** Queues the error frame for a failure: a `BusError`'s code, else INTERNAL. */
  fail(err: unknown, correlationId: number): void {
    if (err instanceof BusError) this.error(err.code, err.message, correlationId);
    else this.error("INTERNAL", `internal error: ${(err as Error)?.message}`, correlationId);
  }

  /** A subscription has deliveries or a drop notice waiting. */
  wake(sub: Subscription): void {
    // Once a subscription of this session saw a critical or bulk pulse, flushes go by lane.
    if (!this.#lanes && sub.laned) this.#lanes = true;
    this.#ready.add(sub);
    // A critical or normal delivery does not wait out a stall that only bulk is in: it
    // would otherwise wait for the poll timer, which a publish flood can starve.
    if (this.#bulkStall && this.#stallTimer !== undefined && sub.readyUpTo(1)) {
      this.#schedule(true);
    } else this.#schedule();
  }

  /** Forgets a subscription that ended. */
  forget(sub: Subscription): void {
    this.#readySet?.delete(sub);
    this.#gate?.forget(sub);
  }

  /**
   * Delivers `sub` in causal order with the connection's other causal subscriptions,
   * waiting at most `timeoutMs` for a missing dependency (docs/time.md).
   */
  causal(sub: Subscription, timeoutMs: number): void {
    const o = this.#ctx.options;
    this.#gate ??= new CausalGate({
      sequenceOf: this.#ctx.sequenceOf ?? (() => Infinity),
      maxHeld: o.causalMaxHeld ?? 4096,
      maxHeldBytes: o.causalMaxHeldBytes ?? 8 * 1024 * 1024,
      onBound: () => this.#ctx.metrics.limitHits.labels("causal_held").inc(),
    });
    this.#gate.add(sub, timeoutMs);
  }

  /** Pulses the causal gate holds now (0 without causal subscriptions). */
  get causalHeld(): number {
    return this.#gate?.held ?? 0;
  }

  /**
   * Sends the queued control frames right away, ahead of the fan-out the same message
   * caused: a publisher pacing on acks or pings gets its answer before the node spends
   * its turn building other subscribers' batches.
   */
  answerNow(): void {
    // Even while stalled: the transport bounds what a non-reading peer holds (and closes
    // it past the bound); held here, answers would pile up without limit.
    if (this.#control.length === 0 || this.#ended) return;
    const out = this.#ctx.codec.batch(this.#ctx.options.maxBatchBytes);
    const control = this.#control;
    this.#control = [];
    for (const frame of control) {
      out.addFrame(frame);
      if (out.full) this.#sendOut(out);
    }
    this.#sendOut(out);
  }

  /**
   * Sends one frame at once, bypassing the queue and the high-water mark: the last word
   * before the connection is closed. Transport failures are ignored.
   */
  sendLast(frame: IFrame): void {
    try {
      this.#transport.send(this.#ctx.codec.encode(frame));
    } catch { /* the transport may already be failing */ }
  }

  /** Resumes writing when the transport buffer fell under the high-water mark. */
  resumeIfDrained(): boolean {
    if (this.#ended) return true;
    if (this.#transport.bufferedAmount() > this.#ctx.options.highWaterBytes) return false;
    clearTimeout(this.#stallTimer);
    this.#stallTimer = undefined;
    this.#schedule();
    return true;
  }

  /** Stops for good: nothing more is sent. */
  close(): void {
    this.#ended = true;
    clearTimeout(this.#gateTimer);
    this.#gateTimer = undefined;
    clearTimeout(this.#stallTimer);
    this.#stallTimer = undefined;
    this.#ctx.stalls?.delete(this);
    this.#readySet?.clear();
  }

  #sendOut(out: OutboundBatch): void {
    const t = this.#transport;
    if (t.sendEncoded !== undefined && out.finishInto !== undefined) {
      // Written straight into the transport's write buffer: no message of its own.
      if (out.encodedLength === 0) return;
      if (!t.sendEncoded(out as EncodedOutbound)) return out.discard!();
    } else {
      const msg = out.finish();
      if (msg === null) return;
      t.send(msg);
    }
    const kind = t.kind;
    this.#ctx.metrics.outboundMessages.labels(kind).inc();
    this.#ctx.metrics.outboundFrames.labels(kind).inc(out.lastCount);
  }

  #schedule(pastBulkStall = false): void {
    if (this.#scheduled || this.#ended) return;
    if (this.#stallTimer !== undefined && !pastBulkStall) return;
    this.#scheduled = true;
    queueMicrotask(() => this.#flush());
  }

  #flush(): void {
    this.#scheduled = false;
    if (this.#ended) return;
    const t = this.#transport;
    const { highWaterBytes, maxBatchBytes } = this.#ctx.options;
    if (t.bufferedAmount() > highWaterBytes) {
      this.#stall();
      return;
    }
    const out = this.#ctx.codec.batch(maxBatchBytes);
    const send = (): boolean => {
      this.#sendOut(out);
      return t.bufferedAmount() <= highWaterBytes;
    };
    const control = this.#control;
    this.#control = [];
    for (const frame of control) {
      out.addFrame(frame);
      if (out.full && !send()) {
        this.#control = control.slice(control.indexOf(frame) + 1).concat(this.#control);
        this.#stall();
        return;
      }
    }
    // Lanes in use: one pass per lane, so that every subscription's critical pulses are
    // in the batch before any normal one and bulk ones come last. Else one pass, as before.
    if (this.#lanes) {
      if (!this.#drainReady(out, send, 0) || !this.#drainReady(out, send, 1)) return;
      // Bulk yields in the socket too: it is written only while the transport holds less
      // than a fraction of the high-water mark, so that a critical pulse arriving next
      // waits behind at most that much, not behind megabytes of bulk.
      const bulkHighWater = highWaterBytes / BULK_HIGH_WATER_DIVISOR;
      const sendBulk = (): boolean => {
        this.#sendOut(out);
        return t.bufferedAmount() <= bulkHighWater;
      };
      if (!sendBulk()) {
        // Only bulk (or nothing) is left in the ready subscriptions.
        if (this.#readySet !== undefined && this.#readySet.size > 0) this.#stall(true);
        return;
      }
      if (!this.#drainReady(out, sendBulk, 2)) return;
    } else if (!this.#drainReady(out, send, 2)) return;
    send();
  }

  /**
   * Adds the deliveries of every ready subscription down to lane `maxRank` (0 critical,
   * 1 normal, 2 bulk) to `out`; false when the transport stalled (the flush stops).
   */
  #drainReady(out: OutboundBatch, send: () => boolean, maxRank: number): boolean {
    const t = this.#transport;
    for (const sub of this.#readySet ?? []) {
      if (maxRank < 2 && !sub.readyUpTo(maxRank)) continue;
      if (sub.unreportedDrops > 0) {
        const n = sub.unreportedDrops;
        sub.unreportedDrops = 0;
        this.#ctx.metrics.errors.labels(t.kind, "SLOW_CONSUMER").inc();
        out.addFrame({
          error: {
            code: errorCodeValue("SLOW_CONSUMER"),
            message: `${n} deliveries dropped: subscriber is not keeping up`,
            subscriptionId: sub.spec.id,
            dropped: n,
          },
        });
      }
      let counter = this.#delivered.get(sub.spec.realityId);
      if (!counter) {
        counter = this.#ctx.metrics.delivered.labels(sub.spec.realityId);
        this.#delivered.set(sub.spec.realityId, counter);
      }
      const maxBatchBytes = this.#ctx.options.maxBatchBytes;
      while (sub.readyUpTo(maxRank)) {
        // Large pulses are taken a batch's worth at a time: what is taken is written, so a
        // fixed count of 64 KiB pulses would overshoot the high-water mark by megabytes.
        const head = sub.headSize(maxRank);
        const n = head > 0
          ? Math.max(1, Math.min(TAKE_PER_TURN, Math.floor(maxBatchBytes / head)))
          : TAKE_PER_TURN;
        const items = sub.take(n, maxRank);
        let wrote = false;
        // Patterns overlapping a denied topic deliver only what the principal may see.
        const filter = this.#ctx.filterOf(sub);
        const gate = this.#gate !== undefined && this.#gate.has(sub) ? this.#gate : undefined;
        const emit = gate && this.#emitter(out);
        const now = gate ? performance.now() : 0;
        for (const p of items) {
          if (filter && !filter.canReceive(p.pulse.topic ?? "")) continue;
          // Causal order: the gate keeps a pulse whose dependencies are still on their way.
          if (gate !== undefined && gate.admit(sub, p, now, emit!)) continue;
          if (this.#addDeliver(out, sub, p)) wrote = true;
        }
        counter.inc(items.length);
        if ((wrote || out.full) && !send()) {
          if (!sub.ready) this.#ready.delete(sub);
          this.#stall();
          return false;
        }
      }
      if (!sub.ready) this.#ready.delete(sub);
    }
    if (this.#gate !== undefined && this.#gate.held > 0) this.#releaseHeld(out);
    return true;
  }

  /** Adds one delivery to `out`; true when `out` filled up and was sent. */
  #addDeliver(out: OutboundBatch, sub: Subscription, p: StampedPulse): boolean {
    // Anycast deliveries also say which embedding matched (rare: encoded whole).
    if (p.anycast === undefined) out.addDeliver(sub.spec.id, p);
    else {
      out.addFrame({
        deliver: {
          subscriptionId: sub.spec.id,
          pulse: p.pulse,
          anycastMatch: p.anycast.get(sub),
        },
      });
    }
    if (p.sampledAt !== 0) deliveryTimed(this.#ctx.metrics, p);
    const tracer = this.#ctx.tracer;
    if (tracer !== undefined) tracer.delivered(p, sub.spec.id, this.#transport.kind);
    // A message never grows past one batch plus one pulse, whatever the sizes: a
    // reader with a message-size limit (Python websockets: 1 MiB) is not cut off.
    if (out.full) {
      this.#sendOut(out);
      return true;
    }
    return false;
  }

  /** How the causal gate releases pulses into `out` (a late one after its CAUSAL_GAP). */
  #emitter(out: OutboundBatch): (sub: Subscription, p: StampedPulse, gap?: string) => void {
    return (sub, p, gap) => {
      if (gap !== undefined) {
        this.#ctx.metrics.errors.labels(this.#transport.kind, "CAUSAL_GAP").inc();
        out.addFrame({
          error: {
            code: errorCodeValue("CAUSAL_GAP"),
            message: gap,
            subscriptionId: sub.spec.id,
          },
        });
      }
      this.#addDeliver(out, sub, p);
    };
  }

  // Held pulses go out as their dependencies arrive or their deadlines pass; while any
  // is held, a timer looks again (nothing else may wake this connection).
  #releaseHeld(out: OutboundBatch): void {
    const gate = this.#gate!;
    const now = performance.now();
    gate.release(now, this.#emitter(out));
    if (gate.held === 0 || this.#gateTimer !== undefined || this.#ended) return;
    const wait = Math.max(1, Math.min(CAUSAL_POLL_MS, gate.nextDeadline - now));
    this.#gateTimer = setTimeout(() => {
      this.#gateTimer = undefined;
      this.#schedule();
    }, wait);
  }

  #stall(bulkOnly = false): void {
    if (this.#stallTimer !== undefined || this.#ended) return;
    this.#bulkStall = bulkOnly;
    this.#ctx.metrics.transportStalls.labels(this.#transport.kind).inc();
    this.#ctx.stalls?.add(this);
    // No drain event exists on WebSocket: poll the buffer level until it falls.
    this.#stallTimer = setTimeout(() => {
      this.#stallTimer = undefined;
      this.#ctx.stalls?.delete(this);
      this.#schedule();
    }, STALL_POLL_MS);
  }
}

/** Observes a sampled pulse's publish-to-delivery time (kept out of the flush loop's body). */
function deliveryTimed(metrics: NodeMetrics, p: StampedPulse): void {
  metrics.publishToDelivery.labels(p.pulse.realityId!)
    .observe((performance.now() - p.sampledAt) / 1000);
}
