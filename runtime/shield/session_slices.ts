/**
 * Bounds the work one received message does in one go. A batch of publishes to a reality
 * guarded by an expensive policy (half a millisecond a pulse) is seconds of synchronous
 * work, and a connection read on demand hands over one message after another: without a
 * bound, one publisher held the event loop while `/healthz`, other realities and SIGTERM
 * waited (issue 11: 108 s). A message is therefore read in slices: once a slice has used
 * its time, the message's remaining frames wait (copied, in order) for a later turn, and
 * the connection reads nothing more until they ran, so its backlog waits in TCP.
 * @module
 */
import type { BusError, FrameReader, IFrame, WireAnycastTarget } from "../protocol/mod.ts";

/** Reads one message's frames, deferring those past the current slice's end. */
export class MessageSlicer {
  readonly #inner: FrameReader;
  readonly #clock: () => number;
  /** Deferred frames of the current message, in order. */
  #rest: (() => void)[] = [];
  #head = 0;
  #ends = 0;
  /** Frames run in the current slice (the first one always runs: progress). */
  #ran = 0;

  /** Slices the reading of `inner`, timed with `clock` (milliseconds). */
  constructor(inner: FrameReader, clock: () => number = () => performance.now()) {
    this.#inner = inner;
    this.#clock = clock;
  }

  /** Whether frames of the current message wait for a later slice. */
  get pending(): boolean {
    return this.#head < this.#rest.length;
  }

  /** Starts a slice of `ms` milliseconds. */
  begin(ms: number): void {
    this.#ends = this.#clock() + ms;
    this.#ran = 0;
  }

  /** Whether the next frame must wait: the slice is used up, or earlier frames wait. */
  #defer(): boolean {
    if (this.#head < this.#rest.length) return true;
    if (this.#ran++ === 0) return false;
    return this.#clock() >= this.#ends;
  }

  /** The reader a message is read with while slicing. */
  readonly reader: FrameReader = {
    publish: (
      correlationId: number,
      ack: number,
      pulse: Uint8Array,
      consumed?: Record<string, number>,
      anycast?: WireAnycastTarget,
    ) => {
      if (!this.#defer()) {
        return this.#inner.publish(correlationId, ack, pulse, consumed, anycast);
      }
      // The view is valid only during the call: keep a copy (the anycast vector is one).
      const copy = pulse.slice();
      this.#rest.push(() => this.#inner.publish(correlationId, ack, copy, consumed, anycast));
    },
    frame: (frame: IFrame, kind: string) => {
      if (!this.#defer()) return this.#inner.frame(frame, kind);
      this.#rest.push(() => this.#inner.frame(frame, kind));
    },
    error: (error: BusError) => {
      if (!this.#defer()) return this.#inner.error(error);
      this.#rest.push(() => this.#inner.error(error));
    },
  };

  /** Runs deferred frames while the slice begun last lasts; true when some still wait. */
  resume(): boolean {
    while (this.#head < this.#rest.length) {
      if (this.#ran++ > 0 && this.#clock() >= this.#ends) return true;
      this.#rest[this.#head++]();
    }
    this.#rest = [];
    this.#head = 0;
    return false;
  }

  /** Runs every deferred frame now. */
  finish(): void {
    this.begin(Infinity);
    this.resume();
  }
}
