/**
 * Inbound frames after the welcome, routed to whom they concern: deliveries to their
 * subscription, answers to the call waiting for them, errors to the call, the
 * subscription or the client's `onError`, pings answered.
 * @module
 */
import {
  BusError,
  decodeFrame,
  encodeFrame,
  errorCodeName,
  type FrameVisitor,
  type IFrame,
  PulseView,
} from "../protocol/mod.ts";
import type { ConnectOptions } from "./options.ts";
import type { PendingCalls } from "./pending.ts";
import type { ClientSubscription } from "./subscription.ts";
import type { ConsumedClock } from "./consumed.ts";

/** Routes one connection's inbound frames; outlives reconnects. */
export class FrameDispatch {
  readonly #subs: Map<number, ClientSubscription>;
  readonly #pending: PendingCalls;
  readonly #send: (frame: Uint8Array) => void;
  readonly #options: ConnectOptions;
  readonly #consumed: ConsumedClock | undefined;

  /**
   * Routes to `subs` and `pending`; `send` queues an outbound frame (a pong). `consumed`
   * (when reporting) learns the clock of every delivery and acknowledged publish.
   */
  constructor(
    subs: Map<number, ClientSubscription>,
    pending: PendingCalls,
    send: (frame: Uint8Array) => void,
    options: ConnectOptions,
    consumed?: ConsumedClock,
  ) {
    this.#subs = subs;
    this.#pending = pending;
    this.#send = send;
    this.#options = options;
    this.#consumed = consumed;
  }

  /** The fast path of `scanFrames`: deliveries are read in place, other frames decoded. */
  readonly visitor: FrameVisitor = {
    publish: () => {},
    deliver: (subscriptionId, bytes) => {
      const sub = this.#subs.get(subscriptionId);
      if (!sub) return;
      let pulse: PulseView;
      try {
        pulse = new PulseView(bytes);
      } catch (err) {
        this.#options.onError?.(new BusError("INVALID_FRAME", String(err)));
        return;
      }
      this.#consumed?.seen(pulse);
      sub.push(pulse);
    },
    // History pulses stay as received, decoded on access like deliveries: a read of many
    // pulses builds no message objects (docs/performance.md).
    historyChunk: (chunk) => {
      const pulses: PulseView[] = new Array(chunk.pulses.length);
      try {
        for (let i = 0; i < pulses.length; i++) pulses[i] = new PulseView(chunk.pulses[i]);
      } catch (err) {
        const error = new BusError("INVALID_FRAME", `history chunk: ${String(err)}`);
        if (!this.#pending.fail(chunk.correlationId, error)) this.#options.onError?.(error);
        return;
      }
      this.#pending.historyChunk({ correlationId: chunk.correlationId, pulses, done: chunk.done });
    },
    // A durable publisher gets one ack per publish: read in place, no Frame object.
    ack: (ack) => {
      this.#consumed?.published(ack.realityId, ack.sequence);
      this.#pending.settleAck(ack);
    },
    other: (frame) => {
      try {
        this.handle(decodeFrame(frame));
      } catch (err) {
        this.#options.onError?.(err as BusError);
      }
    },
    nestedBatch: () => {},
  };

  /** Handles one decoded frame (a batch frame by each of its frames). */
  handle(frame: IFrame): void {
    switch (frame.kind) {
      case "batch":
        for (const inner of frame.batch!.frames!) this.handle(inner);
        return;
      case "deliver": {
        const d = frame.deliver!;
        // Anycast deliveries: what matched rides on the pulse (see SubscribeOptions.anycast).
        if (d.anycastMatch) Object.assign(d.pulse!, { anycastMatch: d.anycastMatch });
        const sub = this.#subs.get(d.subscriptionId ?? 0);
        if (!sub) return;
        this.#consumed?.seen(d.pulse!);
        sub.push(d.pulse!);
        return;
      }
      case "ack":
        this.#consumed?.published(frame.ack!.realityId ?? "", frame.ack!.sequence ?? 0);
        return this.#pending.settleAck(frame.ack!);
      case "subscribed":
        this.#pending.subscribed(frame.subscribed!.correlationId ?? 0)?.confirm();
        return;
      case "reply": {
        const r = frame.reply!;
        return this.#pending.settleReply(r.correlationId ?? 0, r.pulse!, r.final ?? false);
      }
      case "historyChunk":
        return this.#pending.historyChunk(frame.historyChunk!);
      case "error":
        return this.#onErrorFrame(frame);
      case "ping":
        this.#send(encodeFrame({ pong: { nonce: frame.ping!.nonce ?? 0 } }));
        return;
      case "pong":
        return this.#pending.settlePong(frame.pong!.nonce ?? 0);
    }
  }

  // An error goes to the call it answers, else the subscription it names, else onError.
  #onErrorFrame(frame: IFrame): void {
    const e = frame.error!;
    const error = new BusError(errorCodeName(e.code ?? 0), e.message ?? "");
    const c = e.correlationId ?? 0;
    if (c !== 0) {
      if (this.#pending.fail(c, error)) return;
      const sub = this.#pending.subscribed(c);
      if (sub) {
        this.#subs.delete(sub.id);
        sub.confirm(error);
        return;
      }
    }
    const sub = e.subscriptionId ? this.#subs.get(e.subscriptionId) : undefined;
    if (sub) {
      sub.fail(error, e.dropped ?? 0);
      return;
    }
    this.#options.onError?.(error);
  }
}
