/**
 * The server side of one raw TCP connection (`--tcp-port`): length-prefixed protobuf
 * frames (`framer.ts`) carried to the same session as a WebSocket's, read on demand like
 * the WebSocket server connection: a connection is read again only once the frames of
 * its last read were handled, and after a large read it waits for `yieldTurn`, so a
 * flooding client waits in TCP backpressure while the others are read.
 *
 * Memory: an idle connection waits in a read of a small buffer of its own; a read
 * expected to be large borrows a buffer from a pool shared by every connection. Written
 * frames wait in the shared bounded `Outbound` queue; a peer that does not read what it
 * asks for is cut off past `maxBufferedBytes`. A frame whose length prefix is over the
 * limit gets an Error frame (FRAME_TOO_LARGE) and the connection is closed (the stream
 * cannot be resynchronized); a frame begun and not finished within `frameTimeoutMs`
 * (slowloris) gets TIMEOUT and is closed too.
 * @module
 */
import { encodeFrame, type ErrorCodeName, errorCodeValue } from "../../protocol/mod.ts";
import { type IdleWatched, unwatchIdle, watchIdle } from "../idle_watch.ts";
import { Outbound } from "../outbound.ts";
import type { EncodedMessage, Transport, TransportSession } from "../transport.ts";
import { BufferPool } from "../buffer_pool.ts";
import { FrameParser, FrameTooLargeError, LENGTH_PREFIX } from "./framer.ts";

/** Limits of a raw TCP server connection. */
export interface TcpServerOptions {
  /** Largest frame accepted (prefix excluded); a larger prefix closes the connection. */
  readonly maxFrameBytes: number;
  /** Milliseconds a begun frame may take to arrive whole; then TIMEOUT and close. 0: none. */
  readonly frameTimeoutMs: number;
  /** Seconds of silence before a Ping frame; as long again without a frame closes. 0: never. */
  readonly idleTimeoutSeconds: number;
  /** Awaited before a read that follows a large one, so other sockets get their turn. */
  readonly yieldTurn?: () => Promise<void>;
  /** Most bytes waiting to be written to the peer; past it the connection is cut. */
  readonly maxBufferedBytes: number;
  /** Called once when a connection is cut for going over `maxBufferedBytes`. */
  readonly onBufferedOverflow?: () => void;
  /** Told each time a limit cuts a connection (`tcp_frame_too_large`, `tcp_frame_timeout`). */
  readonly onLimit?: (limit: string) => void;
}

// The buffer an idle connection's pending read holds: hellos, pings, small publishes fit.
const IDLE_READ_BYTES = 1024;
// Pooled buffers: one read's worth for a busy connection. 128 KiB: a client batching a
// paced 50k pulses/s sends 55 KB a message, more after a late timer tick (as WebSocket).
const READ_BYTES = 128 * 1024;
// Pooled buffers kept while unused (4 MiB).
const POOL_KEEP = 32;
const readBuffers = new BufferPool(READ_BYTES, POOL_KEEP);
// A connection whose messages outgrow the idle buffer waits for its next one in a pooled
// buffer: one read a message, where the idle buffer took two (a system call and an
// event-loop turn each). At most this many connections wait so at once (4 MiB).
const MAX_POOLED_WAITS = POOL_KEEP;
let pooledWaits = 0;
// Time the last frames get to be written once the connection is closing.
const CLOSE_WAIT_MS = 1000;
const encoder = new TextEncoder();

/** Read buffers taken from the shared pool and not yet given back (for tests). */
export function tcpReadBuffersTaken(): number {
  return readBuffers.taken;
}

/** A raw TCP client connection carrying length-prefixed frames. */
export class TcpServerConnection implements Transport, IdleWatched {
  /** Metric label of this carrier. */
  readonly kind = "tcp";
  /** Reads the next chunk only once the last one was handled. */
  readonly readsOnDemand = true;
  /** Peer address. */
  readonly remote: string;
  readonly #conn: Deno.Conn;
  readonly #options: TcpServerOptions;
  readonly #outbound: Outbound;
  readonly #parser: FrameParser;
  #session: TransportSession | null = null;
  #closing = false;
  #ended = false;
  #lastHeard = Date.now();
  #pinged = false;
  // When the unfinished frame began (epoch ms), 0 when none waits.
  #partialSince = 0;
  #idleMs = 0;
  #idleBuf: Uint8Array | null = null;
  // Watches the unfinished frame's deadline, swept with every connection's.
  readonly #slowWatch: IdleWatched = { checkIdle: (ms) => this.#checkSlow(ms) };

  /** Wraps an accepted connection (TLS already negotiated when it is a TLS one). */
  constructor(conn: Deno.Conn, remote: string, options: TcpServerOptions) {
    this.#conn = conn;
    this.remote = remote;
    this.#options = options;
    this.#parser = new FrameParser(options.maxFrameBytes);
    this.#outbound = new Outbound(conn, options.maxBufferedBytes, {
      ended: () => this.#ended,
      closing: () => this.#closing,
      end: () => this.#end(),
    }, LENGTH_PREFIX);
  }

  /** Starts reading frames for `session`. */
  start(session: TransportSession): void {
    this.#session = session;
    // Closed before it started (a node draining closes new sessions at once).
    if (this.#ended) return session.closed();
    this.#idleMs = this.#options.idleTimeoutSeconds * 1000;
    if (this.#idleMs > 0) watchIdle(this, this.#idleMs);
    if (this.#options.frameTimeoutMs > 0) watchIdle(this.#slowWatch, this.#options.frameTimeoutMs);
    this.#readLoop().catch(() => this.#end());
  }

  /** Sends one frame (a string, which the binary carrier never gets from a session, as UTF-8). */
  send(frame: Uint8Array | string): void {
    if (this.#closing) return;
    this.#enqueue(typeof frame === "string" ? encoder.encode(frame) : frame);
  }

  /** Sends one frame written straight into the outbound chunk; false: refused. */
  sendEncoded(message: EncodedMessage): boolean {
    if (this.#closing) return false;
    if (this.#outbound.enqueueWith(0, message)) return true;
    this.#overflowed();
    return false;
  }

  /** Bytes accepted by `send` and not yet written to the socket. */
  bufferedAmount(): number {
    return this.#outbound.queued;
  }

  /** Resolves once at most `bytes` are waiting to be written, or the connection ended. */
  drained(bytes: number): Promise<void> {
    return this.#outbound.drained(bytes);
  }

  /**
   * Closes once what is queued is written (TCP has no close frame: the last frame a
   * session sends before closing, an Error, says why). `code` and `reason` are unused.
   */
  close(_code = 1000, _reason = ""): void {
    if (this.#closing || this.#ended) return;
    this.#closing = true;
    const timer = setTimeout(() => this.#end(), CLOSE_WAIT_MS);
    Deno.unrefTimer(timer);
    this.#endAfterFlush();
  }

  /** Pings a connection silent for `idleMs`, closes one that did not answer (idle watch). */
  checkIdle(idleMs: number): void {
    if (this.#ended) return;
    if (Date.now() - this.#lastHeard < idleMs) return;
    if (this.#pinged) return this.#fail("TIMEOUT", `silent for ${idleMs} ms; closing`);
    this.#pinged = true;
    this.#lastHeard = Date.now();
    this.#enqueue(encodeFrame({ ping: { nonce: 0 } }));
  }

  #checkSlow(ms: number): void {
    if (this.#ended || this.#partialSince === 0) return;
    if (Date.now() - this.#partialSince < ms) return;
    this.#options.onLimit?.("tcp_frame_timeout");
    this.#fail("TIMEOUT", `frame not complete within ${ms} ms; closing`);
  }

  // A last Error frame, then the connection closes.
  #fail(code: ErrorCodeName, message: string): void {
    if (this.#closing) return;
    this.#enqueue(encodeFrame({ error: { code: errorCodeValue(code), message } }), true);
    this.close();
  }

  #enqueue(frame: Uint8Array, force = false): void {
    if (!this.#outbound.enqueue(0, frame, force)) this.#overflowed();
  }

  // The peer asks for answers and does not read them: drop and cut it off.
  #overflowed(): void {
    if (this.#closing) return;
    this.#outbound.dropQueued();
    this.#options.onBufferedOverflow?.();
    this.#end();
  }

  async #readLoop(): Promise<void> {
    let filled = false;
    let yieldNext = false;
    // The last read brought more than the idle buffer holds: the next message will too.
    let bigMessages = false;
    while (!this.#ended) {
      if (yieldNext && this.#options.yieldTurn) {
        await this.#options.yieldTurn();
        if (this.#ended) return;
      }
      // A pooled buffer when much is probably waiting (the last read filled its buffer,
      // or a frame larger than the idle buffer is under way).
      let pooled: boolean = filled || this.#parser.pending > 0;
      // Waiting for a message (nothing of it read yet) in a pooled buffer: counted, bounded.
      let waiting = false;
      if (!pooled && bigMessages && pooledWaits < MAX_POOLED_WAITS) {
        pooled = waiting = true;
        pooledWaits++;
      }
      const buf: Uint8Array = pooled
        ? readBuffers.take()
        : (this.#idleBuf ??= new Uint8Array(IDLE_READ_BYTES));
      let frames: Uint8Array[];
      try {
        let n: number | null;
        try {
          n = await this.#conn.read(buf);
        } catch {
          n = null;
        } finally {
          if (waiting) pooledWaits--;
        }
        if (n === null) return this.#end();
        bigMessages = n > IDLE_READ_BYTES;
        filled = n === buf.length;
        yieldNext = filled && pooled;
        this.#lastHeard = Date.now();
        this.#pinged = false;
        try {
          frames = this.#parser.push(n === buf.length ? buf : buf.subarray(0, n));
        } catch (err) {
          if (!(err instanceof FrameTooLargeError)) throw err;
          this.#options.onLimit?.("tcp_frame_too_large");
          return this.#fail("FRAME_TOO_LARGE", `${err.message}; closing`);
        }
      } finally {
        if (pooled) readBuffers.give(buf);
      }
      // Frames are copies: the buffer is back in the pool while the session works.
      this.#partialSince = this.#parser.pending === 0 ? 0 : this.#partialSince || Date.now();
      for (const frame of frames) {
        if (this.#closing) return;
        const busy = this.#session?.receive(frame);
        if (busy) await busy;
      }
    }
  }

  #endAfterFlush(): void {
    const wait = () => {
      if (this.#ended) return;
      if (this.#outbound.busy) setTimeout(wait, 1);
      else this.#end();
    };
    wait();
  }

  #end(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#closing = true;
    if (this.#idleMs > 0) unwatchIdle(this, this.#idleMs);
    if (this.#options.frameTimeoutMs > 0) {
      unwatchIdle(this.#slowWatch, this.#options.frameTimeoutMs);
    }
    this.#outbound.clear();
    this.#parser.reset();
    this.#outbound.wakeDrained();
    try {
      this.#conn.close();
    } catch { /* already closed */ }
    this.#session?.closed();
  }
}
