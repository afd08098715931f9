/**
 * The server side of one WebSocket connection over a raw TCP connection, read on
 * demand. Deno's built-in server WebSocket hands the program every message a socket has
 * buffered before it reads any other socket, with no way to pause: a client that keeps
 * its socket full holds the event loop. A plain read loop does the same, since a read of
 * a socket that has data completes at once, without the runtime looking at any other
 * socket (measured: a quiet reality's p99 went from about 1 ms to 40 ms while fresh
 * flooding connections were read). So after a large read this connection waits for
 * `yieldTurn` (the node passes one readiness check of every socket): connections are read
 * in turn, a chunk each, and a flooding one waits in TCP backpressure.
 *
 * Memory: an idle connection waits in a read of a small buffer of its own
 * (`IDLE_READ_BYTES`); only a read expected to be large (the last one filled its buffer, or
 * a partial frame waits for its rest) borrows a buffer from a pool shared by every
 * connection, given back once its frames are parsed. Bytes of a frame cut by the end of a
 * read are copied out, exactly sized, until the next read. Idle timeouts are checked by
 * one timer for all connections (`idle_watch.ts`).
 * @module
 */
import type { EncodedMessage, Transport, TransportSession } from "../transport.ts";
import { BufferPool } from "../buffer_pool.ts";
import {
  closeBody,
  type FrameHeader,
  frameHeader,
  headerLength,
  OP,
  parseHeader,
  writeHeader,
  xorMask,
} from "./frame.ts";
import { type FrameHead, Outbound } from "../outbound.ts";
import { type IdleWatched, unwatchIdle, watchIdle } from "../idle_watch.ts";
import { checkCloseBody, grow, ProtocolError, strictUtf8 } from "./frame_checks.ts";

export { validCloseCode } from "./frame_checks.ts";

/** Limits of a server connection. */
export interface WsServerOptions {
  /** Largest message accepted; a bigger one closes the connection with 1009. */
  readonly maxMessageBytes: number;
  /** Seconds of silence before a ping; as long again without an answer closes. 0: never. */
  readonly idleTimeoutSeconds: number;
  /** Awaited before each read after the first, so other sockets get their turn. */
  readonly yieldTurn?: () => Promise<void>;
  /**
   * Most bytes waiting to be written to the peer (each queued frame also counted at a
   * fixed overhead); past it the peer is not reading what it asks for (pongs, replies),
   * and the connection is closed with 1008. Must exceed what the node itself queues
   * before it holds deliveries back (its high-water mark plus one batch).
   * @default {16 MiB}
   */
  readonly maxBufferedBytes?: number;
  /** Called once when a connection is closed for going over `maxBufferedBytes`. */
  readonly onBufferedOverflow?: () => void;
}

// Server frames: an unmasked WebSocket header, the tag is the opcode.
const WS_HEAD: FrameHead = { length: headerLength, write: writeHeader };

/** Default `maxBufferedBytes`. */
export const DEFAULT_MAX_BUFFERED_BYTES = 16 * 1024 * 1024;

// The buffer an idle connection's pending read holds: a hello, a ping, small publishes fit.
const IDLE_READ_BYTES = 1024;
// A connection whose messages outgrow it (a read filled it) gets one this large: a message
// cut by a read's end costs a second read, each an event-loop turn (measured: paced 2 KB
// messages then took twice as long to handle).
const IDLE_READ_MAX = 4096;
// Pooled buffers: one read's worth for a busy connection; a frame larger than this is read
// into a buffer of its own, then the others' turn comes (`yieldTurn`, a readiness check of
// every socket: about 16 µs of CPU). 128 KiB: a client batching a paced 50k pulses/s sends
// 1 ms of pulses a message, 55 KB, and more after a late timer tick; with 64 KiB a third
// of those messages went the large frame's way (a buffer, two reads, a turn each).
const READ_BYTES = 128 * 1024;
// A frame larger than a pooled buffer first gets this many times the bytes that arrived.
const LARGE_GROWTH = 8;
// Pooled buffers kept while unused (4 MiB); more are left to the garbage collector.
const POOL_KEEP = 32;
const readBuffers = new BufferPool(READ_BYTES, POOL_KEEP);
// A connection whose messages outgrow the idle buffer (a client batching its publishes:
// about 50 KB a message at a paced 50k pulses/s) waits for its next message in a pooled
// buffer, so a message is one read: waiting in the idle buffer cost two reads (a system
// call and an event-loop turn each) and a copy of the first bytes. At most this many
// connections wait so at once (4 MiB); the others wait in their idle buffers as before.
const MAX_POOLED_WAITS = POOL_KEEP;
let pooledWaits = 0;
const EMPTY = new Uint8Array(0);
const CLOSE_WAIT_MS = 1000;
// A fragment costs at least what its smallest header costs on the wire: empty
// continuation frames count against the message limit too.
const FRAGMENT_COST = 6;
const encoder = new TextEncoder();

/** Read buffers taken from the shared pool and not yet given back (for tests). */
export function readBuffersTaken(): number {
  return readBuffers.taken;
}

/** A server-side WebSocket on a TCP connection; lives until the connection closes. */
export class WsServerConnection implements Transport, IdleWatched {
  /** Metric label of this carrier. */
  readonly kind = "ws";
  /** Reads the next chunk only once the last one was handled. */
  readonly readsOnDemand = true;
  /** Peer address. */
  readonly remote: string;
  readonly #conn: Deno.Conn;
  readonly #options: WsServerOptions;
  #session: TransportSession | null = null;
  readonly #outbound: Outbound;
  #closing = false;
  #ended = false;
  #lastHeard = Date.now();
  #pinged = false;
  // Milliseconds of silence checked by the idle watch; 0: not watched.
  #idleMs = 0;
  // The buffer of reads while the connection is idle; allocated at its first read.
  #idleBuf: Uint8Array | null = null;
  // A fragmented message, collected in one buffer that grows as fragments arrive.
  #fragments: Uint8Array = EMPTY;
  #fragmentBytes = 0;
  #fragmentCost = 0;
  #fragmentOp = 0;

  /** Wraps an upgraded connection (the 101 response is already written). */
  constructor(conn: Deno.Conn, remote: string, options: WsServerOptions) {
    this.#conn = conn;
    this.remote = remote;
    this.#options = options;
    this.#outbound = new Outbound(
      conn,
      options.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES,
      { ended: () => this.#ended, closing: () => this.#closing, end: () => this.#end() },
      WS_HEAD,
    );
  }

  /** Starts reading for `session`; `rest` holds bytes read past the HTTP head. */
  start(session: TransportSession, rest: Uint8Array): void {
    this.#session = session;
    this.#idleMs = this.#options.idleTimeoutSeconds * 1000;
    if (this.#idleMs > 0) watchIdle(this, this.#idleMs);
    this.#readLoop(rest).catch((err) => {
      // After a protocol error nothing more is read: end once the close frame is out.
      if (err instanceof ProtocolError) this.close(err.code, err.message);
      this.#endAfterFlush();
    });
  }

  /** Sends one message: bytes as a binary frame, a string as a text frame. */
  send(frame: Uint8Array | string): void {
    if (this.#closing) return;
    if (typeof frame === "string") this.#enqueue(OP.text, encoder.encode(frame));
    else this.#enqueue(OP.binary, frame);
  }

  /** Sends one binary message written straight into the outbound chunk; false: refused. */
  sendEncoded(message: EncodedMessage): boolean {
    if (this.#closing) return false;
    if (this.#outbound.enqueueWith(OP.binary, message)) return true;
    this.#overflow();
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

  /** Starts the closing handshake; the connection ends when the peer answers or soon after. */
  close(code = 1000, reason = ""): void {
    if (this.#closing || this.#ended) return;
    this.#enqueue(OP.close, closeBody(code, reason));
    this.#closing = true;
    const timer = setTimeout(() => this.#end(), CLOSE_WAIT_MS);
    Deno.unrefTimer(timer);
  }

  #enqueue(opcode: number, body: Uint8Array): void {
    if (!this.#outbound.enqueue(opcode, body, opcode === OP.close)) return this.#overflow();
  }

  // The peer sends what earns answers (pings, bad frames, requests) and does not read
  // them: what is not yet being written is dropped and the connection closed (1008).
  #overflow(): void {
    if (this.#closing) return;
    this.#outbound.dropQueued();
    this.#options.onBufferedOverflow?.();
    this.close(1008, `over ${this.#outbound.maxHeld} bytes waiting: the peer is not reading`);
  }

  /** Pings a connection silent for `idleMs`, closes one that did not answer (idle watch). */
  checkIdle(idleMs: number): void {
    if (this.#ended) return;
    if (Date.now() - this.#lastHeard < idleMs) return;
    if (this.#pinged) return this.close(1001, "idle timeout");
    this.#pinged = true;
    this.#lastHeard = Date.now();
    this.#enqueue(OP.ping, new Uint8Array(0));
  }

  async #readLoop(rest: Uint8Array): Promise<void> {
    const h = frameHeader();
    // Bytes not yet parsed: those read past the HTTP head, then a frame cut by a read's end.
    let carry: Uint8Array = rest;
    // Bytes the frame in `carry` needs in all (at least `carry.length`).
    let want = rest.length;
    // The last read filled its buffer: more is probably waiting, read it into a pooled one.
    let filled = false;
    // The last read filled a pooled buffer: a flooding client, let the others read first.
    let yieldNext = false;
    let first = true;
    // The last read brought more than the idle buffer holds: the next message will too.
    let bigMessages = false;
    while (!this.#ended) {
      // Only a read that filled a pooled buffer says much more is waiting; a paced
      // client's small reads go straight on. (Not the read's size: with a partial frame
      // carried over, a full read is shorter than the buffer.)
      if (yieldNext && this.#options.yieldTurn) {
        await this.#options.yieldTurn();
        if (this.#ended) return;
      }
      let pooled: boolean = filled || want > IDLE_READ_BYTES;
      // Waiting for a message (nothing read yet) in a pooled buffer: counted, bounded.
      let waiting = false;
      if (!pooled && bigMessages && !first && pooledWaits < MAX_POOLED_WAITS) {
        pooled = waiting = true;
        pooledWaits++;
      }
      const buf: Uint8Array = pooled
        ? readBuffers.take()
        : (this.#idleBuf ??= new Uint8Array(IDLE_READ_BYTES));
      let end = carry.length;
      // A frame larger than a pooled buffer, its first bytes copied out of `buf`.
      let large: Uint8Array;
      let have: number;
      try {
        buf.set(carry);
        carry = EMPTY;
        want = 0;
        if (!first) {
          let n: number | null;
          try {
            // The whole buffer when it can: a view would be one more object per connection.
            n = await this.#conn.read(end === 0 ? buf : buf.subarray(end));
          } catch {
            n = null;
          } finally {
            if (waiting) pooledWaits--;
          }
          if (n === null) return this.#end();
          end += n;
          bigMessages = end > IDLE_READ_MAX;
          filled = end === buf.length;
          yieldNext = filled && pooled;
          this.#lastHeard = Date.now();
          this.#pinged = false;
        }
        first = false;
        const start = await this.#parse(buf, end, h);
        if (this.#ended) return;
        if (start === end) continue;
        // A frame cut by the end of the read: keep its bytes, unless it is larger than a
        // pooled buffer, then read it into a buffer of its own.
        want = parseHeader(buf, start, end, h) ? h.body - start + h.size : end - start;
        if (want <= READ_BYTES) {
          carry = buf.slice(start, end);
          continue;
        }
        // That buffer grows as bytes arrive: a header alone (which may lie) allocates
        // one read's worth; a client's 256 KiB batch read 64 KiB at a time gets its whole
        // buffer at once (sized by twice what arrived, it was copied twice more).
        have = end - h.body;
        large = new Uint8Array(Math.min(h.size, Math.max(LARGE_GROWTH * have, READ_BYTES)));
        large.set(buf.subarray(h.body, end));
      } finally {
        if (pooled) readBuffers.give(buf);
        else if (filled && buf.length < IDLE_READ_MAX) {
          this.#idleBuf = new Uint8Array(Math.min(4 * buf.length, IDLE_READ_MAX));
        }
      }
      const { size: len, key, opcode, fin } = h;
      let body = large;
      filled = false;
      // Over 64 KiB were read: the others' turn next.
      yieldNext = true;
      while (have < len) {
        if (have === body.length) body = grow(body, have, len);
        let n: number | null;
        try {
          n = await this.#conn.read(body.subarray(have));
        } catch {
          n = null;
        }
        if (n === null) return this.#end();
        have += n;
      }
      this.#lastHeard = Date.now();
      this.#pinged = false;
      xorMask(body, key);
      const busy = this.#frame(opcode, fin, body);
      if (busy) await busy;
    }
  }

  // Handles every complete frame in buf[0, end); returns where the first incomplete one
  // starts (end when none). Throws on a protocol error, also in an incomplete frame's header.
  // While the session works on a message (an expensive one goes in slices over several
  // turns) the next frame waits: the peer's backlog stays in TCP (fair to other work).
  async #parse(buf: Uint8Array, end: number, h: FrameHeader): Promise<number> {
    const max = this.#options.maxMessageBytes;
    let start = 0;
    while (parseHeader(buf, start, end, h)) {
      if (!h.masked) throw new ProtocolError(1002, "client frames must be masked");
      if (h.rsv) throw new ProtocolError(1002, "no extension was negotiated");
      const { size: len, key, opcode, fin, body: at } = h;
      // A control frame must be whole and short (RFC 6455 §5.5): known from its header.
      if (opcode >= 0x8 && (!fin || len > 125)) throw new ProtocolError(1002, "bad control frame");
      if (len > max) throw new ProtocolError(1009, `message over ${max} bytes`);
      if (end - at < len) break;
      // A copy: the buffer is reused, the session may keep what it receives.
      const body = buf.slice(at, at + len);
      start = at + len;
      xorMask(body, key);
      const busy = this.#frame(opcode, fin, body);
      if (busy) await busy;
      if (this.#ended) break;
    }
    return start;
  }

  /** Handles one frame; a promise: the session is still working on the message. */
  #frame(opcode: number, fin: boolean, body: Uint8Array): void | Promise<void> {
    if (opcode >= 0x8) {
      if (!fin || body.length > 125) throw new ProtocolError(1002, "bad control frame");
      // Nothing may follow our close frame, not even a pong.
      if (opcode === OP.ping) {
        if (!this.#closing) this.#enqueue(OP.pong, body);
      } else if (opcode === OP.close) {
        checkCloseBody(body);
        if (!this.#closing) {
          // Echo the peer's status code (RFC 6455 §5.5.1), then end once it is written.
          this.#enqueue(OP.close, body.subarray(0, 2));
          this.#closing = true;
        }
        this.#endAfterFlush();
      } else if (opcode !== OP.pong) throw new ProtocolError(1002, `unknown opcode ${opcode}`);
      return;
    }
    if (opcode === OP.continuation) {
      if (this.#fragmentOp === 0) throw new ProtocolError(1002, "continuation of nothing");
      this.#addFragment(body);
      if (!fin) return;
      // Exactly sized: the session may keep the message (forwarded pulses share it).
      const whole = this.#fragments.length === this.#fragmentBytes
        ? this.#fragments
        : this.#fragments.slice(0, this.#fragmentBytes);
      const op = this.#fragmentOp;
      this.#fragments = EMPTY;
      this.#fragmentBytes = 0;
      this.#fragmentCost = 0;
      this.#fragmentOp = 0;
      return this.#message(op, whole);
    }
    if (opcode !== OP.text && opcode !== OP.binary) {
      throw new ProtocolError(1002, `unknown opcode ${opcode}`);
    }
    if (this.#fragmentOp !== 0) {
      throw new ProtocolError(1002, "new message inside a fragmented one");
    }
    if (!fin) {
      this.#fragmentOp = opcode;
      this.#fragments = body;
      this.#fragmentBytes = body.length;
      this.#fragmentCost = Math.max(body.length, FRAGMENT_COST);
      return;
    }
    return this.#message(opcode, body);
  }

  // Appends a fragment, charging at least FRAGMENT_COST: a stream of empty continuation
  // frames reaches the message limit like a stream of full ones.
  #addFragment(body: Uint8Array): void {
    const max = this.#options.maxMessageBytes;
    this.#fragmentCost += Math.max(body.length, FRAGMENT_COST);
    if (this.#fragmentCost > max) throw new ProtocolError(1009, `message over ${max} bytes`);
    if (body.length === 0) return;
    const need = this.#fragmentBytes + body.length;
    if (need > this.#fragments.length) {
      // Doubling keeps appends amortized O(1); never beyond the limit, never below need.
      const size = Math.min(max, Math.max(need, this.#fragments.length * 2));
      const bigger = new Uint8Array(size);
      bigger.set(this.#fragments.subarray(0, this.#fragmentBytes));
      this.#fragments = bigger;
    }
    this.#fragments.set(body, this.#fragmentBytes);
    this.#fragmentBytes = need;
  }

  #message(opcode: number, body: Uint8Array): void | Promise<void> {
    if (this.#closing) return;
    if (opcode === OP.text) {
      let text: string;
      try {
        text = strictUtf8.decode(body);
      } catch {
        throw new ProtocolError(1007, "text message is not valid UTF-8");
      }
      return this.#session?.receive(text);
    }
    return this.#session?.receive(body);
  }

  #endAfterFlush(): void {
    const wait = () => {
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
    this.#outbound.clear();
    this.#fragments = EMPTY;
    this.#outbound.wakeDrained();
    try {
      this.#conn.close();
    } catch { /* already closed */ }
    this.#session?.closed();
  }
}
