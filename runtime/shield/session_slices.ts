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

// Most frames run between two readings of the clock within a slice.
const MAX_UNCHECKED = 16;

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
  /** When the clock was read last in this slice, at which frame count; when to read it next. */
  #checkedAt = 0;
  #checkedRan = 0;
  #nextCheck = 1;

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
    this.#checkedAt = this.#clock();
    this.#ends = this.#checkedAt + ms;
    this.#ran = 0;
    this.#checkedRan = 0;
    this.#nextCheck = 1;
  }

  /**
   * Whether the slice is used up, before running one more frame (the first always runs).
   * The clock is read only every few frames (a `performance.now()` costs about as much as
   * reading a small publish): as often as a quarter of the time left would allow at the
   * frames' pace so far, at most every `MAX_UNCHECKED` frames, and every frame once frames
   * are slow (the pace since the last reading). A slice overshoots by at most
   * `MAX_UNCHECKED` frames' time, when cheap frames are followed by slow ones (an expensive
   * policy on some topics only).
   */
  #usedUp(): boolean {
    const n = this.#ran++;
    if (n < this.#nextCheck) return false;
    const now = this.#clock();
    if (now >= this.#ends) return true;
    // The pace of the frames since the last reading (not the slice's average, which
    // cheap frames before slow ones would dilute).
    const each = (now - this.#checkedAt) / (n - this.#checkedRan);
    this.#checkedAt = now;
    this.#checkedRan = n;
    const ahead = each > 0 ? Math.floor((this.#ends - now) / 4 / each) : MAX_UNCHECKED;
    this.#nextCheck = n + Math.max(1, Math.min(MAX_UNCHECKED, ahead));
    return false;
  }

  /** Whether the next frame must wait: the slice is used up, or earlier frames wait. */
  #defer(): boolean {
    if (this.#head < this.#rest.length) return true;
    return this.#usedUp();
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
      if (this.#usedUp()) return true;
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
