/**
 * The client's outbound queue: frames written in one event-loop turn leave as one batch
 * message (or earlier once `maxBatchBytes` are waiting), so a publisher streaming small
 * pulses pays one message per turn, not one per pulse.
 *
 * Frames are encoded straight into the batch being built (the outbox is the encoder's
 * `FrameSink`), with room kept in front for the batch's own key and length and for the
 * transport's framing. Our sockets write their header into that room and mask (WebSocket)
 * the bytes where they are, so a publish is written once and never copied.
 * @module
 */
import { type FrameSink, varintLength, writeVarint } from "../protocol/mod.ts";
import { OUTBOX_ROOM, sendsInPlace } from "./dial.ts";

/** Default target size of one outbound batch message. */
export const DEFAULT_MAX_BATCH_BYTES = 256 * 1024;

const KEY_BATCH_FRAMES = (1 << 3) | 2; // Batch.frames = 1
const KEY_FRAME_BATCH = (14 << 3) | 2; // Frame.batch = 14
// Bytes before the first frame: the transport's room plus the batch key and its length.
const HEAD = OUTBOX_ROOM + 6;
const MIN_CAPACITY = 4096;

/** Frames waiting for the end of the turn, and the socket they go to. */
export class Outbox implements FrameSink {
  /** The socket of the current connection (replaced on reconnect). */
  socket!: WebSocket;
  /**
   * The batch being built: `HEAD` free bytes, then each frame as a `Batch.frames` entry.
   * Handed to the socket on flush (a new one is started), so it is never copied.
   */
  buffer: Uint8Array = new Uint8Array(MIN_CAPACITY);
  readonly #maxBatchBytes: number;
  #pos = HEAD;
  #count = 0;
  #scheduled = false;

  /** An outbox flushing early once `maxBatchBytes` are waiting. */
  constructor(maxBatchBytes = DEFAULT_MAX_BATCH_BYTES) {
    this.#maxBatchBytes = maxBatchBytes;
  }

  /** Bytes written but not yet handed to the socket. */
  get bytes(): number {
    return this.#pos - HEAD;
  }

  /**
   * Makes room for one frame of `length` bytes in the batch and returns where to write it
   * in `buffer`; it leaves at the end of this turn, or earlier when the batch fills up.
   */
  reserve(length: number): number {
    const entry = 1 + varintLength(length) + length;
    // A full batch leaves before this frame joins it (its bytes are not written yet).
    if (this.#count > 0 && this.#pos - HEAD + entry > this.#maxBatchBytes) this.flush();
    if (this.#pos + entry > this.buffer.length) this.#grow(this.#pos + entry);
    const b = this.buffer;
    b[this.#pos] = KEY_BATCH_FRAMES;
    const at = writeVarint(b, this.#pos + 1, length);
    this.#pos = at + length;
    this.#count++;
    if (!this.#scheduled) {
      this.#scheduled = true;
      queueMicrotask(() => this.flush());
    }
    return at;
  }

  /** Queues a frame that is already encoded. */
  enqueue(frame: Uint8Array): void {
    const at = this.reserve(frame.length);
    this.buffer.set(frame, at);
  }

  #grow(needed: number): void {
    let size = this.buffer.length * 2;
    while (size < needed) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buffer.subarray(0, this.#pos));
    this.buffer = next;
  }

  /** Forgets what is waiting (the connection it was written for is gone). */
  clear(): void {
    this.#pos = HEAD;
    this.#count = 0;
  }

  /** Hands what is waiting to the socket: one frame as is, several as one batch. */
  flush(): void {
    this.#scheduled = false;
    const count = this.#count;
    if (count === 0) return;
    const b = this.buffer;
    const end = this.#pos;
    // The next batch starts in a new buffer about as large as this one was: the socket
    // owns this one now (it writes its header in front and masks in place).
    this.buffer = new Uint8Array(Math.max(MIN_CAPACITY, b.length));
    this.#pos = HEAD;
    this.#count = 0;
    const ws = this.socket;
    if (ws.readyState !== WebSocket.OPEN) return;
    let at: number;
    if (count === 1) {
      // One frame leaves unwrapped: skip its entry's key and length.
      let p = HEAD + 1;
      while (b[p] & 0x80) p++;
      at = p + 1;
    } else {
      const body = end - HEAD;
      at = HEAD - 1 - varintLength(body);
      b[at] = KEY_FRAME_BATCH;
      writeVarint(b, at + 1, body);
    }
    if (sendsInPlace(ws)) ws.sendOwned(b, at, end);
    else ws.send(b.subarray(at, end) as Uint8Array<ArrayBuffer>);
  }
}
