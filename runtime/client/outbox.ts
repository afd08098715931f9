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
// Batches are carved one after another out of a slab this large (each byte is zeroed once,
// at the slab's allocation), and a new slab is started when one is used up.
const SLAB_BYTES = 1024 * 1024;

/** Frames waiting for the end of the turn, and the socket they go to. */
export class Outbox implements FrameSink {
  /** The socket of the current connection (replaced on reconnect). */
  socket!: WebSocket;
  /**
   * The slab the batch being built is in: from `#start`, `HEAD` free bytes, then each frame
   * as a `Batch.frames` entry. A batch is handed to the socket where it is (the socket owns
   * those bytes from then on), so it is never copied; the next batch starts after it.
   */
  buffer: Uint8Array;
  readonly #maxBatchBytes: number;
  #start = 0;
  #pos = HEAD;
  #count = 0;
  #scheduled = false;

  /** An outbox flushing early once `maxBatchBytes` are waiting. */
  constructor(maxBatchBytes = DEFAULT_MAX_BATCH_BYTES) {
    this.#maxBatchBytes = maxBatchBytes;
    this.buffer = new Uint8Array(Math.max(SLAB_BYTES, 4 * maxBatchBytes));
  }

  /** Bytes written but not yet handed to the socket. */
  get bytes(): number {
    return this.#pos - this.#start - HEAD;
  }

  /**
   * Makes room for one frame of `length` bytes in the batch and returns where to write it
   * in `buffer`; it leaves at the end of this turn, or earlier when the batch fills up.
   */
  reserve(length: number): number {
    const entry = 1 + varintLength(length) + length;
    // A full batch leaves before this frame joins it (its bytes are not written yet).
    if (this.#count > 0 && this.bytes + entry > this.#maxBatchBytes) this.flush();
    if (this.#pos + entry > this.buffer.length) this.#newSlab(entry);
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

  // The batch so far moves to the start of a new slab with room for `entry` more bytes.
  #newSlab(entry: number): void {
    const used = this.#pos - this.#start;
    const next = new Uint8Array(Math.max(SLAB_BYTES, used + entry));
    next.set(this.buffer.subarray(this.#start, this.#pos));
    this.buffer = next;
    this.#start = 0;
    this.#pos = used;
  }

  /** Forgets what is waiting (the connection it was written for is gone). */
  clear(): void {
    this.#pos = this.#start + HEAD;
    this.#count = 0;
  }

  /** Hands what is waiting to the socket: one frame as is, several as one batch. */
  flush(): void {
    this.#scheduled = false;
    const count = this.#count;
    if (count === 0) return;
    const b = this.buffer;
    const end = this.#pos;
    const head = this.#start + HEAD;
    // The next batch starts after this one, on an 8-byte boundary; or in a new slab when a
    // full batch would not fit in what is left (starting there costs no copy, moving a
    // batch half-written would).
    this.#start = (end + 7) & ~7;
    if (b.length - this.#start < this.#maxBatchBytes + HEAD) {
      this.buffer = new Uint8Array(Math.max(SLAB_BYTES, 4 * this.#maxBatchBytes));
      this.#start = 0;
    }
    this.#pos = this.#start + HEAD;
    this.#count = 0;
    const ws = this.socket;
    if (ws.readyState !== WebSocket.OPEN) return;
    let at: number;
    if (count === 1) {
      // One frame leaves unwrapped: skip its entry's key and length.
      let p = head + 1;
      while (b[p] & 0x80) p++;
      at = p + 1;
    } else {
      const body = end - head;
      at = head - 1 - varintLength(body);
      b[at] = KEY_FRAME_BATCH;
      writeVarint(b, at + 1, body);
    }
    if (sendsInPlace(ws)) ws.sendOwned(b, at, end);
    else ws.send(b.subarray(at, end) as Uint8Array<ArrayBuffer>);
  }
}
