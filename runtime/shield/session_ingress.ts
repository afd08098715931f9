/**
 * How a session takes in what its client sends. Each received message is filed under
 * the reality its first publish goes to and runs when the node's fair scheduler gives
 * that reality its turn; a reality whose lane is full has its publishes shed (refused
 * with RATE_LIMITED), and a connection that keeps flooding is closed.
 * @module
 */
import {
  AckMode,
  BusError,
  codecOf,
  type FrameCodec,
  type FrameReader,
  type IFrame,
  readDecoded,
  type WireMessage,
} from "../protocol/mod.ts";
import type { NodeMetrics } from "../telemetry/mod.ts";
import type { Transport } from "../transport/mod.ts";
import type { SessionAccess } from "./auth/mod.ts";
import { type FairScheduler, PRIORITY_NORMAL, PRIORITY_URGENT } from "./limits/mod.ts";
import { LANE_RANK } from "../spine/mod.ts";
import type { FrameHandler } from "./session_frames.ts";
import type { SessionOptions } from "./session_options.ts";
import type { Outbox } from "./session_outbox.ts";
import { MessageSlicer } from "./session_slices.ts";
import type { StallWatch } from "./stall_watch.ts";

// Unacknowledged pulses shed by the ingress scheduler are reported at most this often.
const SHED_NOTICE_MS = 1000;
// Milliseconds of work a message read on demand does in one go (at least).
const SLICE_MS = 2;

/** What ingress works with; lives as long as its session. */
export interface IngressContext {
  /** The connection read from. */
  readonly transport: Transport;
  /** The frame limit and the flood-kick threshold. */
  readonly options: Pick<SessionOptions, "maxFrameBytes" | "rateKick">;
  /** The node's metrics. */
  readonly metrics: NodeMetrics;
  /** Where received frames go. */
  readonly frames: FrameHandler;
  /** Where errors and refusals go. */
  readonly outbox: Outbox;
  /** The session: whether it ended, and how to close it (a flood is closed). */
  readonly session: { readonly ended: boolean; close(code: number, reason: string): void };
  /** This connection's permissions and limits (a flood kick is recorded there). */
  readonly access?: SessionAccess;
  /** Stalled sessions, re-checked on every received message. */
  readonly stalls?: StallWatch;
  /** Shares the node's ingress fairly between realities; absent: work runs as it arrives. */
  readonly fairness?: FairScheduler;
  /**
   * Calls back on a later event-loop turn, after the runtime looked at every socket (the
   * node passes `IoTurn.schedule`): how a long message read on demand is spread over turns
   * when there is no fair scheduler. Absent with no scheduler: messages run whole.
   */
  readonly nextTurn?: (callback: () => void) => void;
}

/** The inbound side of one session. */
export class Ingress {
  readonly #ctx: IngressContext;
  readonly #frames: FrameHandler;
  readonly #outbox: Outbox;
  /** Received messages waiting in the fair scheduler, and the reality lane they wait in. */
  #backlog = 0;
  #backlogReality = "";
  #shedUnreported = 0;
  #shedNoticeAt = 0;
  #shedWindowAt = 0;
  #shedInWindow = 0;
  /** Publishes refused by the current `#shed`. */
  #shedCount = 0;
  #shedMessage = "";
  /** The message read on demand that is being worked through, slice by slice. */
  readonly #slicer: MessageSlicer;

  /** Creates the ingress of a new session. */
  constructor(ctx: IngressContext) {
    this.#ctx = ctx;
    this.#frames = ctx.frames;
    this.#outbox = ctx.outbox;
    this.#slicer = new MessageSlicer(ctx.frames.reader);
  }

  /**
   * Whether received messages wait in the fair scheduler. A message read on demand whose
   * frames wait for a turn does not count: once the node drains, its publishes are refused
   * and there is nothing to flush, so shutdown need not wait for a flood's next slice.
   */
  get backlogged(): boolean {
    return this.#backlog > 0;
  }

  /**
   * Handles one received transport message. A promise says the message's work continues
   * on later turns: a transport reading on demand reads nothing more until it settles.
   */
  receive(data: WireMessage): void | Promise<void> {
    if (this.#ctx.session.ended) return;
    this.#ctx.stalls?.poll();
    const codec = codecOf(data);
    // A transport that reads on demand waits for its message's work before reading on, so
    // its flood waits in TCP: it needs no queue here, only a bound on each go.
    if (this.#ctx.transport.readsOnDemand) return this.#receiveSliced(codec, data);
    const fair = this.#ctx.fairness;
    if (fair) {
      // Behind its own queued messages a session's next message queues too (its order
      // holds within a lane): only a critical one may run ahead of them.
      if (this.#backlog > 0) {
        const priority = this.#priorityOf(codec, data);
        const reality = this.#backlogReality;
        const work = () => this.#receiveOne(codec, data);
        if (priority === PRIORITY_URGENT && fair.runNow(reality, work, priority)) {
          return this.#outbox.answerNow();
        }
        return this.#defer(fair, codec, reality, data, priority);
      }
      const reality = codec.peekPublishReality(data);
      if (reality !== undefined) {
        const work = () => this.#receiveOne(codec, data);
        if (!fair.runNow(reality, work)) {
          // Waiting: a critical message overtakes its reality's queue, bulk yields in it.
          const priority = this.#priorityOf(codec, data);
          if (priority !== PRIORITY_URGENT || !fair.runNow(reality, work, priority)) {
            return this.#defer(fair, codec, reality, data, priority);
          }
        }
        return this.#outbox.answerNow();
      }
    }
    this.#receiveOne(codec, data);
    this.#outbox.answerNow();
  }

  /**
   * The scheduling priority of a message: the rank of the lane its first publish names,
   * else of the connection's default lane (a reality's lane rules are not looked at here).
   */
  #priorityOf(codec: FrameCodec, data: WireMessage): number {
    return LANE_RANK[codec.peekPublishLane(data) || this.#frames.defaultLane] ?? PRIORITY_NORMAL;
  }

  /** Queues a received message in its reality's lane; a full lane sheds its publishes. */
  #defer(
    fair: FairScheduler,
    codec: FrameCodec,
    reality: string,
    data: WireMessage,
    priority: number,
  ): void {
    const refusal = fair.submit(
      reality,
      () => {
        this.#backlog--;
        // Messages received before the connection closed are still carried out (publishes).
        this.#receiveOne(codec, data);
        this.#outbox.answerNow();
      },
      codec.sizeOf(data),
      priority,
    );
    if (refusal) {
      this.#shed(codec, reality || "default", data, refusal.message);
      this.#outbox.answerNow();
      return;
    }
    this.#backlog++;
    this.#backlogReality = reality;
    this.#ctx.metrics.ingressDeferred.labels(reality || "default").inc();
  }

  /**
   * Works through a message read on demand in slices: charged to its reality's credit when
   * the node has a fair scheduler (a reality out of credit waits for its turn, the other
   * realities do not), each slice about `SLICE_MS` (or a quantum) long, the rest on later
   * turns. One message per connection is in flight, so connections of one reality take
   * turns too.
   */
  #receiveSliced(codec: FrameCodec, data: WireMessage): void | Promise<void> {
    const fair = this.#ctx.fairness;
    if (!fair && !this.#ctx.nextTurn) {
      this.#receiveOne(codec, data);
      return this.#outbox.answerNow();
    }
    const slicer = this.#slicer;
    // A slice shorter than a readiness check would spend the turn on the check; a slice
    // past the quantum is owed by the reality and paid out of its next turns.
    const sliceMs = Math.max(fair?.quantumMs ?? 0, SLICE_MS);
    const first = () => {
      slicer.begin(sliceMs);
      this.#receiveOne(codec, data, slicer.reader);
      this.#outbox.answerNow();
    };
    // Messages without publishes (pings, subscribes...) are not charged to a reality.
    const reality = fair ? codec.peekPublishReality(data) : undefined;
    let priority = PRIORITY_NORMAL;
    if (
      fair && reality !== undefined && !fair.runNow(reality, first) &&
      ((priority = this.#priorityOf(codec, data)) !== PRIORITY_URGENT ||
        !fair.runNow(reality, first, priority))
    ) {
      return new Promise((resolve) => {
        const refusal = fair.submit(
          reality,
          () => {
            first();
            if (slicer.pending) this.#continueSliced(reality, sliceMs, priority).then(resolve);
            else resolve();
          },
          codec.sizeOf(data),
          priority,
        );
        if (!refusal) return;
        this.#shed(codec, reality || "default", data, refusal.message);
        this.#outbox.answerNow();
        resolve();
      });
    }
    if (reality === undefined) first();
    if (slicer.pending) {
      // The rest of a long message (an expensive policy chain) waits in its lane's priority.
      if (fair && reality !== undefined) priority = this.#priorityOf(codec, data);
      return this.#continueSliced(reality, sliceMs, priority);
    }
  }

  /** Runs the current message's deferred frames, a slice a turn; resolves when all ran. */
  #continueSliced(
    reality: string | undefined,
    sliceMs: number,
    priority = PRIORITY_NORMAL,
  ): Promise<void> {
    const fair = reality === undefined ? undefined : this.#ctx.fairness;
    const slicer = this.#slicer;
    return new Promise((resolve) => {
      const step = () => {
        let more = false;
        try {
          slicer.begin(sliceMs);
          more = slicer.resume();
        } finally {
          this.#frames.flush();
          // Whatever a frame threw, the connection is read on.
          this.#outbox.answerNow();
          if (more) schedule();
          else resolve();
        }
      };
      const schedule = () => {
        if (!fair) return this.#ctx.nextTurn ? this.#ctx.nextTurn(step) : step();
        if (fair.submit(reality!, step, 0, priority) === undefined) return;
        // Refused (the node is stopping: its publishes are refused cheaply): finish now.
        slicer.finish();
        this.#frames.flush();
        this.#outbox.answerNow();
        resolve();
      };
      schedule();
    });
  }

  #receiveOne(codec: FrameCodec, data: WireMessage, reader = this.#frames.reader): void {
    try {
      this.#readOne(codec, data, reader);
    } finally {
      // Publishes held for the policies to decide together run before the buffer goes.
      this.#frames.flush();
    }
  }

  #readOne(codec: FrameCodec, data: WireMessage, reader: FrameReader): void {
    const size = codec.sizeOf(data);
    const max = this.#ctx.options.maxFrameBytes;
    if (size > max) {
      this.#outbox.error("FRAME_TOO_LARGE", `frame of ${size} bytes exceeds the limit of ${max}`);
      return;
    }
    if (codec.read(data, reader)) return;
    // Unreadable as a whole: the full decoder says why (or, more lenient, reads it).
    let frame: IFrame;
    try {
      frame = codec.decode(data);
    } catch (err) {
      const e = err instanceof BusError ? err : new BusError("INVALID_FRAME", String(err));
      this.#outbox.error(e.code, e.message);
      return;
    }
    readDecoded(frame, reader);
  }

  /** Refuses a publish of a shed message: acknowledged ones now, the others counted. */
  #refuse(correlationId: number, ack: number): void {
    this.#shedCount++;
    if (ack !== AckMode.NONE) this.#outbox.error("RATE_LIMITED", this.#shedMessage, correlationId);
    else this.#shedUnreported++;
  }

  /** Reads a message the scheduler could not take: publishes refused, the rest carried out. */
  readonly #shedReader: FrameReader = {
    publish: (correlationId, ack) => this.#refuse(correlationId, ack),
    frame: (frame, kind) => {
      if (kind === "publish") {
        this.#refuse(frame.publish!.correlationId ?? 0, frame.publish!.ack ?? 0);
      } else this.#frames.dispatch(frame, kind);
    },
    error: (e) => this.#outbox.error(e.code, e.message),
  };

  /**
   * Refuses the publishes of a message the scheduler could not take: acknowledged ones get
   * RATE_LIMITED with their correlation id, unacknowledged ones are counted and reported
   * once a second. Its other frames (subscribe, ping, credit...) are carried out.
   */
  #shed(codec: FrameCodec, reality: string, data: WireMessage, message: string): void {
    this.#shedCount = 0;
    this.#shedMessage = message;
    // Malformed: the decoder says why.
    if (!codec.read(data, this.#shedReader)) return this.#receiveOne(codec, data);
    const shed = this.#shedCount;
    this.#ctx.metrics.ingressShed.labels(reality).inc(shed);
    const now = Date.now();
    if (this.#floodingTooLong(now, shed, reality)) return;
    if (this.#shedUnreported > 0 && now - this.#shedNoticeAt >= SHED_NOTICE_MS) {
      this.#shedNoticeAt = now;
      this.#outbox.error(
        "RATE_LIMITED",
        `${this.#shedUnreported} unacknowledged pulses shed: ${message}`,
      );
      this.#shedUnreported = 0;
    }
  }

  /**
   * Counts shed pulses; a connection that keeps publishing into a full lane past
   * `--rate-kick` refusals a second is closed. Deno's WebSocket reader hands the node
   * every message a socket has buffered before it reads any other socket, and the node
   * cannot pause that read: shedding makes a flood cheap, closing it ends it.
   */
  #floodingTooLong(now: number, shed: number, reality: string): boolean {
    const limit = this.#ctx.options.rateKick;
    if (limit <= 0) return false;
    if (now - this.#shedWindowAt >= 1000) {
      this.#shedWindowAt = now;
      this.#shedInWindow = 0;
    }
    this.#shedInWindow += shed;
    if (this.#shedInWindow < limit) return false;
    const reason = `flooding past its fair share: ${this.#shedInWindow} pulses shed in 1 s`;
    this.#ctx.metrics.disconnects.labels(reality, "flood").inc();
    this.#ctx.access?.kickedForFlood(reason);
    this.#outbox.error("RATE_LIMITED", reason);
    this.#outbox.answerNow();
    this.#ctx.session.close(1008, reason);
    return true;
  }
}
