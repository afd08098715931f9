/**
 * The write side of one MQTT connection: packets queued in order and written by one
 * flush at a time, coalesced into large writes. The queue is bounded: a peer that does
 * not read and would make it hold more than its bound is cut off, so it cannot grow the
 * node (the session stops writing at its high-water mark well before).
 * @module
 */
import { takeCoalesced, writeChunk } from "../coalesce.ts";

// Bytes coalesced into one write at most.
const WRITE_BYTES = 256 * 1024;
// What one queued packet costs besides its bytes: a flood of tiny packets is bounded too.
const PACKET_COST = 64;

/** Packets waiting to be written to one MQTT peer. */
export class MqttOutbound {
  readonly #conn: Deno.Conn;
  readonly #maxHeld: number;
  readonly #onOverflow: () => void;
  readonly #onFailed: () => void;
  #out: Uint8Array[] = [];
  #queued = 0;
  #held = 0;
  #writing = false;
  #closed = false;
  #waiters: { bytes: number; resolve: () => void }[] = [];

  /**
   * A queue writing to `conn`; `onOverflow` is called (once) when a packet would make it
   * hold more than `maxHeld` bytes, `onFailed` when a write fails.
   */
  constructor(conn: Deno.Conn, maxHeld: number, onOverflow: () => void, onFailed: () => void) {
    this.#conn = conn;
    this.#maxHeld = maxHeld;
    this.#onOverflow = onOverflow;
    this.#onFailed = onFailed;
  }

  /** Bytes queued and not yet written to the socket. */
  get queued(): number {
    return this.#queued;
  }

  /** Queues one packet; false (and the connection is to be cut) past the bound. */
  write(packet: Uint8Array): boolean {
    if (this.#closed) return false;
    if (this.#held + packet.length + PACKET_COST > this.#maxHeld) {
      this.#closed = true;
      this.#onOverflow();
      return false;
    }
    this.#out.push(packet);
    this.#queued += packet.length;
    this.#held += packet.length + PACKET_COST;
    if (!this.#writing) this.#flush();
    return true;
  }

  /** Resolves once at most `bytes` are queued, or the queue closed. */
  drained(bytes: number): Promise<void> {
    if (this.#queued <= bytes || this.#closed) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push({ bytes, resolve }));
  }

  /** Resolves once everything queued was written (or the queue closed). */
  flushed(): Promise<void> {
    return this.drained(0);
  }

  /** Drops what is queued; nothing more is written. */
  close(): void {
    this.#closed = true;
    this.#out = [];
    this.#queued = 0;
    this.#held = 0;
    this.#wake();
  }

  async #flush(): Promise<void> {
    this.#writing = true;
    try {
      while (this.#out.length > 0 && !this.#closed) {
        const { chunk, count: n } = takeCoalesced(this.#out, WRITE_BYTES);
        const bytes = chunk.length;
        await writeChunk(this.#conn, chunk);
        if (this.#closed) break;
        this.#queued -= bytes;
        this.#held -= bytes + n * PACKET_COST;
        this.#wake();
      }
    } catch {
      if (!this.#closed) {
        this.close();
        this.#onFailed();
      }
    } finally {
      this.#writing = false;
    }
  }

  #wake(): void {
    if (this.#waiters.length === 0) return;
    const waiting = this.#waiters;
    this.#waiters = [];
    for (const w of waiting) {
      if (this.#queued <= w.bytes || this.#closed) w.resolve();
      else this.#waiters.push(w);
    }
  }
}
