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
 * @module
 */
import type { Transport, TransportSession } from "../transport.ts";
import {
  closeBody,
  frameHeader,
  headerLength,
  OP,
  parseHeader,
  writeAll,
  writeHeader,
  xorMask,
} from "./frame.ts";

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

/** Default `maxBufferedBytes`. */
export const DEFAULT_MAX_BUFFERED_BYTES = 16 * 1024 * 1024;

const READ_BYTES = 256 * 1024;
const YIELD_AFTER_BYTES = 64 * 1024;
// Bytes coalesced into one write at most.
const WRITE_BYTES = 1024 * 1024;
const CLOSE_WAIT_MS = 1000;
// What one queued frame costs besides its bytes (array slot, typed-array object): counted
// so that a flood of tiny frames (empty pongs) is bounded like a flood of large ones.
const FRAME_COST = 256;
// Frames up to this size are queued as one array, header and body together.
const SMALL_FRAME = 1024;
// A fragment costs at least what its smallest header costs on the wire: empty
// continuation frames count against the message limit too.
const FRAGMENT_COST = 6;
const encoder = new TextEncoder();
const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

class ProtocolError extends Error {
  constructor(readonly code: number, message: string) {
    super(message);
  }
}

/** A server-side WebSocket on a TCP connection; lives until the connection closes. */
export class WsServerConnection implements Transport {
  /** Metric label of this carrier. */
  readonly kind = "ws";
  /** Reads the next chunk only once the last one was handled. */
  readonly readsOnDemand = true;
  /** Peer address. */
  readonly remote: string;
  readonly #conn: Deno.Conn;
  readonly #options: WsServerOptions;
  #session: TransportSession | null = null;
  #out: Uint8Array[] = [];
  #queued = 0;
  // #queued plus FRAME_COST per queued array: what the queue costs, held to the bound.
  #held = 0;
  readonly #maxHeld: number;
  #writing = false;
  #closing = false;
  #ended = false;
  #lastHeard = Date.now();
  #pinged = false;
  #idleTimer: ReturnType<typeof setInterval> | undefined;
  // A fragmented message, collected in one buffer that grows as fragments arrive.
  #fragments: Uint8Array = new Uint8Array(0);
  #fragmentBytes = 0;
  #fragmentCost = 0;
  #fragmentOp = 0;
  #drainWaiters: { bytes: number; resolve: () => void }[] = [];

  /** Wraps an upgraded connection (the 101 response is already written). */
  constructor(conn: Deno.Conn, remote: string, options: WsServerOptions) {
    this.#conn = conn;
    this.remote = remote;
    this.#options = options;
    this.#maxHeld = options.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES;
  }

  /** Starts reading for `session`; `rest` holds bytes read past the HTTP head. */
  start(session: TransportSession, rest: Uint8Array): void {
    this.#session = session;
    const idle = this.#options.idleTimeoutSeconds * 1000;
    if (idle > 0) {
      this.#idleTimer = setInterval(() => this.#checkIdle(idle), Math.max(idle / 2, 50));
    }
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

  /** Bytes accepted by `send` and not yet written to the socket. */
  bufferedAmount(): number {
    return this.#queued;
  }

  /** Resolves once at most `bytes` are waiting to be written, or the connection ended. */
  drained(bytes: number): Promise<void> {
    if (this.#queued <= bytes || this.#ended) return Promise.resolve();
    return new Promise((resolve) => this.#drainWaiters.push({ bytes, resolve }));
  }

  #wakeDrained(): void {
    if (this.#drainWaiters.length === 0) return;
    const still: { bytes: number; resolve: () => void }[] = [];
    for (const w of this.#drainWaiters) {
      if (this.#queued <= w.bytes || this.#ended) w.resolve();
      else still.push(w);
    }
    this.#drainWaiters = still;
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
    const size = headerLength(body.length) + body.length;
    const parts = body.length <= SMALL_FRAME ? 1 : 2;
    if (opcode !== OP.close && this.#held + size + parts * FRAME_COST > this.#maxHeld) {
      return this.#overflow();
    }
    if (parts === 1) {
      const frame = new Uint8Array(size);
      frame.set(body, writeHeader(frame, 0, opcode, body.length));
      this.#out.push(frame);
    } else {
      const head = new Uint8Array(size - body.length);
      writeHeader(head, 0, opcode, body.length);
      this.#out.push(head, body);
    }
    this.#queued += size;
    this.#held += size + parts * FRAME_COST;
    if (!this.#writing) this.#flush();
  }

  // The peer sends what earns answers (pings, bad frames, requests) and does not read
  // them: what is not yet being written is dropped and the connection closed (1008).
  #overflow(): void {
    if (this.#closing) return;
    for (const part of this.#out) {
      this.#queued -= part.length;
      this.#held -= part.length + FRAME_COST;
    }
    this.#out = [];
    this.#wakeDrained();
    this.#options.onBufferedOverflow?.();
    this.close(1008, `over ${this.#maxHeld} bytes waiting: the peer is not reading`);
  }

  async #flush(): Promise<void> {
    this.#writing = true;
    try {
      while (this.#out.length > 0 && !this.#ended) {
        // Coalesce what is queued into one write: one syscall for a turn's frames.
        let size = 0;
        let n = 0;
        while (n < this.#out.length && (n === 0 || size + this.#out[n].length <= WRITE_BYTES)) {
          size += this.#out[n++].length;
        }
        const parts = this.#out.splice(0, n);
        let chunk: Uint8Array;
        if (parts.length === 1) chunk = parts[0];
        else {
          chunk = new Uint8Array(size);
          let at = 0;
          for (const p of parts) {
            chunk.set(p, at);
            at += p.length;
          }
        }
        await writeAll(this.#conn, chunk);
        this.#queued -= size;
        this.#held -= size + n * FRAME_COST;
        this.#wakeDrained();
      }
    } catch {
      this.#end();
      return;
    } finally {
      this.#writing = false;
    }
    if (this.#closing && this.#out.length === 0) {
      // Our close frame is out: no more writes, wait for the peer's close (or the timer).
      try {
        await (this.#conn as Deno.TcpConn).closeWrite();
      } catch { /* already gone */ }
    }
  }

  #checkIdle(idleMs: number): void {
    if (this.#ended) return;
    if (Date.now() - this.#lastHeard < idleMs) return;
    if (this.#pinged) return this.close(1001, "idle timeout");
    this.#pinged = true;
    this.#lastHeard = Date.now();
    this.#enqueue(OP.ping, new Uint8Array(0));
  }

  async #readLoop(rest: Uint8Array): Promise<void> {
    let buf = new Uint8Array(Math.max(READ_BYTES, rest.length));
    buf.set(rest);
    let start = 0;
    let end = rest.length;
    const max = this.#options.maxMessageBytes;
    let lastRead = 0;
    const h = frameHeader();
    while (!this.#ended) {
      // Parse every complete frame in buf[start, end).
      while (parseHeader(buf, start, end, h)) {
        if (!h.masked) throw new ProtocolError(1002, "client frames must be masked");
        if (h.rsv) throw new ProtocolError(1002, "no extension was negotiated");
        const { size: len, key, opcode, fin, body: at } = h;
        if (len > max) throw new ProtocolError(1009, `message over ${max} bytes`);
        if (end - at >= len) {
          const body = buf.slice(at, at + len);
          start = at + len;
          xorMask(body, key);
          const busy = this.#frame(opcode, fin, body);
          if (busy) await busy;
          if (this.#ended) return;
          continue;
        }
        if (at - start + len <= buf.length) break; // fits once compacted: read more
        // Larger than the read buffer: read the rest of its body into a buffer of its own
        // that grows as bytes arrive; a header alone (which may lie) allocates nothing.
        let have = end - at;
        let body = new Uint8Array(Math.min(len, Math.max(2 * have, READ_BYTES)));
        body.set(buf.subarray(at, end));
        start = end = 0;
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
        xorMask(body, key);
        const busy = this.#frame(opcode, fin, body);
        if (busy) await busy;
      }
      if (start === end) start = end = 0;
      else if (start > 0 && buf.length - end < 64 * 1024) {
        buf.copyWithin(0, start, end);
        end -= start;
        start = 0;
      }
      if (end === buf.length) buf = grow(buf, end);
      // Only a read that filled much of the buffer says more is waiting; a paced client's
      // small reads go straight on.
      if (this.#options.yieldTurn && lastRead >= YIELD_AFTER_BYTES) {
        await this.#options.yieldTurn();
        if (this.#ended) return;
      }
      let n: number | null;
      try {
        n = await this.#conn.read(buf.subarray(end));
      } catch {
        n = null;
      }
      if (n === null) return this.#end();
      end += n;
      lastRead = n;
      this.#lastHeard = Date.now();
      this.#pinged = false;
    }
  }

  /** Handles one frame; a promise: the session is still working on the message. */
  #frame(opcode: number, fin: boolean, body: Uint8Array): void | Promise<void> {
    if (opcode >= 0x8) {
      if (!fin || body.length > 125) throw new ProtocolError(1002, "bad control frame");
      // Nothing may follow our close frame, not even a pong.
      if (opcode === OP.ping) {
        if (!this.#closing) this.#enqueue(OP.pong, body);
      } else if (opcode === OP.close) {
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
      this.#fragments = new Uint8Array(0);
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
      if (this.#writing || this.#out.length > 0) setTimeout(wait, 1);
      else this.#end();
    };
    wait();
  }

  #end(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#closing = true;
    clearInterval(this.#idleTimer);
    this.#out = [];
    this.#queued = 0;
    this.#held = 0;
    this.#fragments = new Uint8Array(0);
    this.#wakeDrained();
    try {
      this.#conn.close();
    } catch { /* already closed */ }
    this.#session?.closed();
  }
}

/** A copy of `buf`'s first `used` bytes in a buffer twice as large, at most `max`. */
function grow(buf: Uint8Array, used: number, max = Infinity): Uint8Array<ArrayBuffer> {
  const bigger = new Uint8Array(Math.max(used + 1, Math.min(buf.length * 2, max)));
  bigger.set(buf.subarray(0, used));
  return bigger;
}
