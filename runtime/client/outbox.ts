/**
 * The client's outbound queue: frames written in one event-loop turn leave as one batch
 * message (or at once when they reach `maxBatchBytes`), so a publisher streaming small
 * pulses pays one WebSocket message per turn, not one per pulse.
 * @module
 */
import { BatchBuilder } from "../protocol/mod.ts";
import { sendsInPlace } from "./dial.ts";

/** Default target size of one outbound batch message. */
export const DEFAULT_MAX_BATCH_BYTES = 256 * 1024;

/** Frames waiting for the end of the turn, and the socket they go to. */
export class Outbox {
  /** The socket of the current connection (replaced on reconnect). */
  socket!: WebSocket;
  readonly #maxBatchBytes: number;
  #frames: Uint8Array[] = [];
  #bytes = 0;
  #scheduled = false;

  /** An outbox flushing early once `maxBatchBytes` are waiting. */
  constructor(maxBatchBytes = DEFAULT_MAX_BATCH_BYTES) {
    this.#maxBatchBytes = maxBatchBytes;
  }

  /** Bytes written but not yet handed to the socket. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Queues a frame; it leaves at the end of this turn or once the batch is full. */
  enqueue(frame: Uint8Array): void {
    this.#frames.push(frame);
    this.#bytes += frame.length;
    if (this.#bytes >= this.#maxBatchBytes) {
      this.flush();
      return;
    }
    if (!this.#scheduled) {
      this.#scheduled = true;
      queueMicrotask(() => this.flush());
    }
  }

  /** Forgets what is waiting (the connection it was written for is gone). */
  clear(): void {
    this.#frames = [];
    this.#bytes = 0;
  }

  /** Hands what is waiting to the socket: one frame as is, several as one batch. */
  flush(): void {
    this.#scheduled = false;
    const frames = this.#frames;
    if (frames.length === 0) return;
    this.#frames = [];
    this.#bytes = 0;
    const ws = this.socket;
    if (ws.readyState !== WebSocket.OPEN) return;
    if (frames.length === 1) {
      ws.send(frames[0] as Uint8Array<ArrayBuffer>);
      return;
    }
    const batch = new BatchBuilder();
    for (const f of frames) batch.addFrame(f);
    if (sendsInPlace(ws)) {
      // Encode the batch straight into the outgoing frame (one copy; masked in place on
      // a WebSocket).
      ws.sendWith(batch.encodedLength, (body) => batch.finishInto(body));
      return;
    }
    ws.send(batch.finish() as Uint8Array<ArrayBuffer>);
  }
}
