/**
 * A transport without sockets: what the node sends stays in memory (or goes to a
 * callback), and the test or benchmark decides how much of it counts as still buffered,
 * to exercise backpressure. Sessions run against it exactly as against a WebSocket.
 * @module
 */
import type { Transport } from "./transport.ts";

/** Options of a `MemoryTransport`. */
export interface MemoryTransportOptions {
  /**
   * Metric label of the carrier.
   * @default {"mem"}
   */
  readonly kind?: string;
  /**
   * Peer address shown in logs.
   * @default {"mem"}
   */
  readonly remote?: string;
  /**
   * Keep every sent message in `sent` (tests); off, only counts are kept (benchmarks).
   * @default {true}
   */
  readonly keep?: boolean;
  /** Called with each sent message, after it was counted. */
  readonly onSend?: (message: Uint8Array | string) => void;
  /**
   * Whether the transport claims to read on demand (the node then skips its ingress queue).
   * @default {false}
   */
  readonly readsOnDemand?: boolean;
}

/** How a `MemoryTransport` was closed. */
export interface MemoryClose {
  /** The WebSocket close code given to `close`. */
  readonly code?: number;
  /** The reason given to `close`. */
  readonly reason?: string;
}

/**
 * An in-memory `Transport`. While `paused`, sent bytes count as buffered (a peer that
 * does not read); `resume()` drains them at once.
 *
 * @example
 * ```ts
 * import { MemoryTransport } from "./memory.ts";
 *
 * const t = new MemoryTransport();
 * t.send("hello");
 * t.take(); // ["hello"]
 * t.pause();
 * t.send(new Uint8Array(10));
 * t.bufferedAmount(); // 10
 * t.resume();
 * t.bufferedAmount(); // 0
 * ```
 */
export class MemoryTransport implements Transport {
  /** Metric label of the carrier. */
  readonly kind: string;
  /** Peer address shown in logs. */
  readonly remote: string;
  /** Whether the node may skip its ingress queue for this transport. */
  readonly readsOnDemand: boolean;
  /** Messages sent and not yet taken (when `keep`). */
  sent: (Uint8Array | string)[] = [];
  /** Messages sent so far. */
  messages = 0;
  /** Bytes (or UTF-16 code units of text) sent so far. */
  bytes = 0;
  /** Set once closed. */
  closedWith: MemoryClose | null = null;
  readonly #keep: boolean;
  readonly #onSend?: (message: Uint8Array | string) => void;
  #paused = false;
  #buffered = 0;
  #waiters: { bytes: number; resolve: () => void }[] = [];

  /** Creates an open transport. */
  constructor(options: MemoryTransportOptions = {}) {
    this.kind = options.kind ?? "mem";
    this.remote = options.remote ?? "mem";
    this.readsOnDemand = options.readsOnDemand ?? false;
    this.#keep = options.keep ?? true;
    this.#onSend = options.onSend;
  }

  /** Records one message; ignored once closed, as a closed socket drops writes. */
  send(message: Uint8Array | string): void {
    if (this.closedWith) return;
    const size = typeof message === "string" ? message.length : message.byteLength;
    this.messages++;
    this.bytes += size;
    if (this.#paused) this.#buffered += size;
    if (this.#keep) this.sent.push(message);
    this.#onSend?.(message);
  }

  /** Bytes sent while paused and not yet drained by `resume`. */
  bufferedAmount(): number {
    return this.#buffered;
  }

  /** Resolves once at most `bytes` are buffered, or the transport closed. */
  drained(bytes: number): Promise<void> {
    if (this.#buffered <= bytes || this.closedWith) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push({ bytes, resolve }));
  }

  /** From now on sent bytes stay buffered: a peer that stopped reading. */
  pause(): void {
    this.#paused = true;
  }

  /** The peer reads again: everything buffered drains at once. */
  resume(): void {
    this.#paused = false;
    this.#buffered = 0;
    this.#wake();
  }

  /** Returns the messages sent since the last call and forgets them. */
  take(): (Uint8Array | string)[] {
    const sent = this.sent;
    this.sent = [];
    return sent;
  }

  /** Closes the transport; later sends are dropped. */
  close(code?: number, reason?: string): void {
    if (this.closedWith) return;
    this.closedWith = { code, reason };
    this.#wake();
  }

  #wake(): void {
    const waiting = this.#waiters;
    this.#waiters = [];
    for (const w of waiting) {
      if (this.#buffered <= w.bytes || this.closedWith) w.resolve();
      else this.#waiters.push(w);
    }
  }
}
