/**
 * The outgoing side of the client's own sockets (`TcpWebSocket`, `TcpFrameSocket`): frames
 * queued by `send` and written by one loop, so `send` never waits and `bufferedAmount` is
 * what has not reached the kernel yet.
 * @module
 */
import { concatBytes } from "../protocol/mod.ts";

// Small frames queued together go out in one system call; large ones as they are (a copy
// of a large frame into a joint buffer costs more than the call it saves).
const SMALL_WRITE = 16 * 1024;

/**
 * Frames waiting for a connection's write loop.
 *
 * @example
 * ```ts ignore
 * const writes = new WriteQueue((err) => socket.fail(err));
 * writes.attach(conn);
 * writes.push(frame); // written in the background
 * ```
 */
export class WriteQueue {
  #conn: Deno.Conn | null = null;
  #queue: Uint8Array[] = [];
  #queued = 0;
  #writing = false;
  readonly #onError: (err: unknown) => void;
  readonly #onIdle: () => void;

  /**
   * @param onError called once a write fails (the loop stops)
   * @param onIdle called each time the loop has written everything queued
   */
  constructor(onError: (err: unknown) => void, onIdle: () => void = () => {}) {
    this.#onError = onError;
    this.#onIdle = onIdle;
  }

  /** Bytes pushed and not yet written to the connection. */
  get bufferedAmount(): number {
    return this.#queued;
  }

  /** Whether frames are queued or being written. */
  get busy(): boolean {
    return this.#writing || this.#queue.length > 0;
  }

  /** The connection writes go to; frames pushed before it are written once it is set. */
  attach(conn: Deno.Conn): void {
    this.#conn = conn;
    if (this.#queue.length > 0 && !this.#writing) this.#loop();
  }

  /** Queues one frame for writing. */
  push(frame: Uint8Array): void {
    this.#queue.push(frame);
    this.#queued += frame.length;
    if (!this.#writing && this.#conn !== null) this.#loop();
  }

  /** Forgets the connection and everything queued (after a close). */
  clear(): void {
    this.#conn = null;
    this.#queue = [];
    this.#queued = 0;
  }

  async #loop(): Promise<void> {
    this.#writing = true;
    try {
      while (this.#queue.length > 0 && this.#conn) {
        const chunks = this.#queue;
        this.#queue = [];
        let small: Uint8Array[] = [];
        for (const chunk of chunks) {
          if (chunk.length < SMALL_WRITE) {
            small.push(chunk);
            continue;
          }
          if (small.length) {
            await this.#write(small);
            small = [];
          }
          await this.#write([chunk]);
        }
        if (small.length) await this.#write(small);
      }
    } catch (err) {
      this.#writing = false;
      this.#onError(err);
      return;
    }
    this.#writing = false;
    this.#onIdle();
  }

  async #write(chunks: Uint8Array[]): Promise<void> {
    const out = chunks.length === 1 ? chunks[0] : concatBytes(...chunks);
    const conn = this.#conn;
    if (conn === null) return;
    let off = 0;
    while (off < out.length) off += await conn.write(out.subarray(off));
    this.#queued -= out.length;
  }
}
