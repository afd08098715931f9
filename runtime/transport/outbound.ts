/**
 * The outbound queue of a server connection, shared by the carriers that frame messages
 * themselves (WebSocket, raw TCP): frames waiting to be written to the peer, bounded in
 * buffered bytes, coalesced into large writes by one flush at a time, with waiters for
 * the queue to drain. What a frame's header looks like is the carrier's (`FrameHead`).
 * @module
 */
import { BufferPool } from "./buffer_pool.ts";
import { takeCoalesced, writeChunk } from "./coalesce.ts";
import type { EncodedMessage } from "./transport.ts";

// Bytes coalesced into one write at most.
const WRITE_BYTES = 1024 * 1024;
// What one queued frame costs besides its bytes (array slot, typed-array object): counted
// so that a flood of tiny frames (empty pongs) is bounded like a flood of large ones.
const FRAME_COST = 256;
// Frames up to this size are queued as one array, header and body together.
const SMALL_FRAME = 1024;
// A frame `enqueueWith` builds while nothing is queued or being written goes to the socket
// at once: it is built in a buffer reused from write to write (sized 64 KiB, or 288 KiB for
// a full 256 KiB batch). A fresh frame per message was an allocation, zeroed, of 50-260 KB:
// at a paced 50 pulses a message about as much as a tenth of the node's work on it, and at
// full rate a mapping and unmapping of pages per batch (docs/performance.md). Frames queued
// behind a write (a peer not keeping up) get their own exactly sized buffers, so a slow
// peer holds at most one pooled buffer, counted whole against its bound while written.
const POOLED_MIN = 4 * 1024;
const writePools = [new BufferPool(64 * 1024, 8), new BufferPool(288 * 1024, 4)];

/** How a carrier heads each frame it sends (a WebSocket header, a length prefix). */
export interface FrameHead {
  /** Bytes of the header before a body of `bodyLength` bytes. */
  length(bodyLength: number): number;
  /** Writes the header of a `tag` frame (a WebSocket opcode, ...) at `at`; returns its end. */
  write(buf: Uint8Array, at: number, tag: number, bodyLength: number): number;
}

/** What the queue asks of the connection it writes for. */
export interface OutboundOwner {
  /** The connection ended: nothing more is written. */
  ended(): boolean;
  /** The connection sent its last frame: once it is written, the write side is shut. */
  closing(): boolean;
  /** Ends the connection (a write failed). */
  end(): void;
}

/** Frames waiting to be written to one connection's peer. */
export class Outbound {
  readonly #conn: Deno.Conn;
  readonly #owner: OutboundOwner;
  readonly #head: FrameHead;
  #out: Uint8Array[] = [];
  #queued = 0;
  // #queued plus FRAME_COST per queued array: what the queue costs, held to the bound.
  #held = 0;
  /** Most bytes held (frames counted at a fixed overhead each). */
  readonly maxHeld: number;
  #writing = false;
  // The pooled buffer of the frame being written (from `enqueueWith`), given back after.
  #pooled: Uint8Array | null = null;
  #drainWaiters: { bytes: number; resolve: () => void }[] | null = null;

  /** A queue writing to `conn` frames headed by `head`, holding at most `maxHeld` bytes. */
  constructor(conn: Deno.Conn, maxHeld: number, owner: OutboundOwner, head: FrameHead) {
    this.#conn = conn;
    this.maxHeld = maxHeld;
    this.#owner = owner;
    this.#head = head;
  }

  /** Bytes queued and not yet written to the socket. */
  get queued(): number {
    return this.#queued;
  }

  /** Whether a write is under way or frames wait. */
  get busy(): boolean {
    return this.#writing || this.#out.length > 0;
  }

  /** Resolves once at most `bytes` are waiting to be written, or the connection ended. */
  drained(bytes: number): Promise<void> {
    if (this.#queued <= bytes || this.#owner.ended()) return Promise.resolve();
    return new Promise((resolve) => (this.#drainWaiters ??= []).push({ bytes, resolve }));
  }

  /** Resolves the drain waiters whose level is reached. */
  wakeDrained(): void {
    if (this.#drainWaiters === null) return;
    const still: { bytes: number; resolve: () => void }[] = [];
    for (const w of this.#drainWaiters) {
      if (this.#queued <= w.bytes || this.#owner.ended()) w.resolve();
      else still.push(w);
    }
    this.#drainWaiters = still.length > 0 ? still : null;
  }

  /**
   * Queues one `tag` frame and starts writing; false (nothing queued) past the bound,
   * unless `force` (a close frame: the last one, always let through).
   */
  enqueue(tag: number, body: Uint8Array, force = false): boolean {
    const size = this.#head.length(body.length) + body.length;
    const parts = body.length <= SMALL_FRAME ? 1 : 2;
    if (!force && this.#held + size + parts * FRAME_COST > this.maxHeld) {
      return false;
    }
    if (parts === 1) {
      const frame = new Uint8Array(size);
      frame.set(body, this.#head.write(frame, 0, tag, body.length));
      this.#out.push(frame);
    } else {
      const head = new Uint8Array(size - body.length);
      this.#head.write(head, 0, tag, body.length);
      this.#out.push(head, body);
    }
    this.#queued += size;
    this.#held += size + parts * FRAME_COST;
    if (!this.#writing) this.#flush();
    return true;
  }

  /**
   * Queues one `tag` frame whose body `message` writes straight into the frame (one
   * allocation and one copy of its bytes, where a finished message queued with `enqueue`
   * took two of each: measured in docs/performance.md), and starts writing; false
   * (nothing queued, nothing asked of `message`) past the bound.
   */
  enqueueWith(tag: number, message: EncodedMessage): boolean {
    const bodyLength = message.encodedLength;
    const size = this.#head.length(bodyLength) + bodyLength;
    if (this.#held + size + FRAME_COST > this.maxHeld) return false;
    let frame: Uint8Array;
    const pool = !this.#writing && this.#out.length === 0 && size >= POOLED_MIN
      ? writePools.find((p) => p.size >= size)
      : undefined;
    if (pool) {
      this.#pooled = pool.take();
      frame = this.#pooled.subarray(0, size);
      this.#held += this.#pooled.length - size;
    } else frame = new Uint8Array(size);
    message.finishInto(frame, this.#head.write(frame, 0, tag, bodyLength));
    this.#out.push(frame);
    this.#queued += size;
    this.#held += size + FRAME_COST;
    if (!this.#writing) this.#flush();
    return true;
  }

  /** Drops what is not yet being written (an overflow). */
  dropQueued(): void {
    for (const part of this.#out) {
      this.#queued -= part.length;
      this.#held -= part.length + FRAME_COST;
    }
    this.#out = [];
    this.wakeDrained();
  }

  /** Forgets everything queued (the connection ended). */
  clear(): void {
    this.#out = [];
    this.#queued = 0;
    this.#held = 0;
  }

  async #flush(): Promise<void> {
    this.#writing = true;
    try {
      while (this.#out.length > 0 && !this.#owner.ended()) {
        // Coalesce what is queued into one write: one syscall for a turn's frames.
        const { chunk, count: n } = takeCoalesced(this.#out, WRITE_BYTES);
        const size = chunk.length;
        // A pooled frame is only ever built with nothing queued: it is this chunk.
        const pooled = this.#pooled;
        this.#pooled = null;
        await writeChunk(this.#conn, chunk);
        this.#queued -= size;
        this.#held -= size + n * FRAME_COST;
        if (pooled !== null) {
          this.#held -= pooled.length - size;
          writePools.find((p) => p.size === pooled.length)!.give(pooled);
        }
        this.wakeDrained();
      }
    } catch {
      this.#owner.end();
      return;
    } finally {
      this.#writing = false;
    }
    if (this.#owner.closing() && this.#out.length === 0) {
      // Our close frame is out: no more writes, wait for the peer's close (or the timer).
      try {
        await (this.#conn as Deno.TcpConn).closeWrite();
      } catch { /* already gone */ }
    }
  }
}
