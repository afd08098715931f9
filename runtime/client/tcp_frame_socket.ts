/**
 * A connection to a node's raw TCP listener (`tcp://host:port`, `tls://host:port`): each
 * protobuf frame preceded by its 4-byte big-endian length, no WebSocket framing and no
 * masking. It implements the subset of the `WebSocket` interface the ArqonBus client uses
 * (see `tcp_websocket.ts`), so everything above the socket is shared.
 * @module
 */
import { FrameParser, LENGTH_BYTES, LENGTH_PREFIX } from "../transport/tcp/mod.ts";
import { ClientSocket } from "./client_socket.ts";
import { WriteQueue } from "./write_queue.ts";

/** Largest frame accepted from the node (its frames are far smaller). */
const MAX_FRAME_BYTES = 64 * 1024 * 1024;
const encoder = new TextEncoder();

/** Options of a raw TCP connection. */
export interface TcpFrameSocketOptions {
  /** PEM CA certificates trusted for `tls://` (besides the system's). */
  readonly caCerts?: string[];
}

/**
 * The `WebSocket` subset over a raw TCP (or TLS) connection to a node. Message events go
 * to `onmessage` only; `open`, `close` and `error` are dispatched as events too.
 */
export class TcpFrameSocket extends ClientSocket {
  /** The URL connected to. */
  readonly url: string;
  /** Always `arqon.v1.proto`: the TCP listener speaks protobuf frames only. */
  readonly protocol = "arqon.v1.proto";
  /** Only binary messages are produced, as `Uint8Array`. */
  binaryType: BinaryType = "arraybuffer";

  #conn: Deno.Conn | null = null;
  // Once everything queued is out, a requested close completes.
  readonly #writes = new WriteQueue((err) => this.fail(err), () => this.#closeIfAsked());
  #closeRequested: { code: number; reason: string } | null = null;

  /** Connects to `tcp://host:port` or `tls://host:port`. */
  constructor(url: string, options: TcpFrameSocketOptions = {}) {
    super();
    this.url = url;
    this.#connect(options).catch((err) => this.fail(err));
  }

  /** Bytes given to `send` and not yet written to the socket. */
  get bufferedAmount(): number {
    return this.#writes.bufferedAmount;
  }

  async #connect(options: TcpFrameSocketOptions): Promise<void> {
    const u = new URL(this.url);
    const secure = u.protocol === "tls:";
    if (!u.port) throw new Error(`${this.url}: a port is required`);
    const port = Number(u.port);
    const hostname = u.hostname.replace(/^\[|\]$/g, "");
    const conn = secure
      ? await Deno.connectTls({ hostname, port, caCerts: options.caCerts })
      : await Deno.connect({ hostname, port });
    // Nagle off: small frames go out at once (see tcp_websocket.ts for the measurements).
    if ("setNoDelay" in conn) (conn as Deno.TcpConn).setNoDelay(true);
    if (this.#closeRequested) {
      conn.close();
      return this.finish(this.#closeRequested.code, this.#closeRequested.reason, true);
    }
    this.#conn = conn;
    this.#writes.attach(conn);
    this.readyState = WebSocket.OPEN;
    this.emit("open", new Event("open"));
    this.#readLoop(conn).catch((err) => this.fail(err));
  }

  /** Sends one frame (a string is sent as its UTF-8 bytes). */
  send(data: Uint8Array | ArrayBuffer | string): void {
    if (this.readyState !== WebSocket.OPEN) return;
    const body = typeof data === "string"
      ? encoder.encode(data)
      : data instanceof Uint8Array
      ? data
      : new Uint8Array(data);
    this.sendWith(body.length, (out) => out.set(body));
  }

  /** Sends one frame of `size` bytes that `fill` writes in place, after its length prefix. */
  sendWith(size: number, fill: (body: Uint8Array) => void): void {
    if (this.readyState !== WebSocket.OPEN) return;
    const frame = new Uint8Array(LENGTH_BYTES + size);
    LENGTH_PREFIX.write(frame, 0, 0, size);
    fill(frame.subarray(LENGTH_BYTES));
    this.#writes.push(frame);
  }

  /**
   * Sends the frame `buffer[at, end)` without copying it: its length prefix goes into the
   * (at least 4) free bytes before `at`.
   */
  sendOwned(buffer: Uint8Array, at: number, end: number): void {
    if (this.readyState !== WebSocket.OPEN) return;
    LENGTH_PREFIX.write(buffer, at - LENGTH_BYTES, 0, end - at);
    this.#writes.push(buffer.subarray(at - LENGTH_BYTES, end));
  }

  /** Closes once queued frames are written (TCP has no close handshake). */
  close(code = 1000, reason = ""): void {
    if (this.readyState >= WebSocket.CLOSING) return;
    if (this.readyState === WebSocket.CONNECTING) {
      this.#closeRequested = { code, reason };
      this.readyState = WebSocket.CLOSING;
      return;
    }
    this.readyState = WebSocket.CLOSING;
    this.#closeRequested = { code, reason };
    if (!this.#writes.busy) this.finish(code, reason, true);
    // Otherwise the write loop finishes once the queue is out.
  }

  #closeIfAsked(): void {
    const close = this.#closeRequested;
    if (close && this.readyState === WebSocket.CLOSING) {
      this.finish(close.code, close.reason, true);
    }
  }

  async #readLoop(conn: Deno.Conn): Promise<void> {
    const buf = new Uint8Array(64 * 1024);
    const parser = new FrameParser(MAX_FRAME_BYTES);
    while (true) {
      let n: number | null;
      try {
        n = await conn.read(buf);
      } catch (err) {
        if (this.closedEmitted) return;
        throw err;
      }
      if (n === null) return this.finish(1006, "connection closed by the node", false);
      for (const data of parser.push(buf.subarray(0, n))) {
        if (this.readyState !== WebSocket.OPEN) return;
        this.onmessage?.({ data } as MessageEvent);
      }
    }
  }

  protected override release(): void {
    try {
      this.#conn?.close();
    } catch { /* already closed */ }
    this.#conn = null;
    this.#writes.clear();
  }
}
