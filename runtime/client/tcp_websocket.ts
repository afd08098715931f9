/**
 * A WebSocket client (RFC 6455) over `Deno.connect` with `TCP_NODELAY` on.
 *
 * Why not the runtime's `WebSocket`: Deno's client socket turns Nagle's algorithm on
 * (`setsockopt(TCP_NODELAY, 0)`, seen with strace) and offers no way to change it. A
 * publisher streaming small batches then waits for the node's delayed ACKs: deliveries
 * measured here arrived in bursts 4–10 ms late at 5k msg/s. This client implements the
 * subset of the `WebSocket` interface the ArqonBus client uses, with the same events.
 * @module
 */

import { concatBytes } from "../protocol/mod.ts";
import {
  acceptKey,
  closeBody,
  frameHeader,
  OP,
  parseHeader,
  readHttpHead,
  readMaskKey,
  writeAll,
  xorMask,
} from "../transport/websocket/mod.ts";
import { ClientSocket } from "./client_socket.ts";
import { WriteQueue } from "./write_queue.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Largest message accepted from the server (the node's frames are far smaller). */
const MAX_MESSAGE_BYTES = 64 * 1024 * 1024;

/** The `WebSocket` subset of a connection to a node over TCP with Nagle off. */
export class TcpWebSocket extends ClientSocket {
  /** `readyState` while connecting. */
  static readonly CONNECTING = 0;
  /** `readyState` while open. */
  static readonly OPEN = 1;
  /** `readyState` while closing. */
  static readonly CLOSING = 2;
  /** `readyState` once closed. */
  static readonly CLOSED = 3;

  /** The URL connected to. */
  readonly url: string;
  /** The subprotocol the server chose. */
  protocol = "";
  /** Only `arraybuffer` is produced. */
  binaryType: BinaryType = "arraybuffer";

  #conn: Deno.Conn | null = null;
  readonly #writes = new WriteQueue((err) => this.fail(err));
  #closeSent = false;
  #closeTimer: ReturnType<typeof setTimeout> | undefined;

  /** Connects to `ws://host:port/path` (or `wss://`), offering `protocols`. */
  constructor(url: string, protocols: string | string[] = []) {
    super();
    this.url = url;
    this.#connect(typeof protocols === "string" ? [protocols] : protocols).catch((err) =>
      this.fail(err)
    );
  }

  /** Bytes given to `send` and not yet written to the socket. */
  get bufferedAmount(): number {
    return this.#writes.bufferedAmount;
  }

  async #connect(protocols: string[]): Promise<void> {
    const u = new URL(this.url);
    const secure = u.protocol === "wss:";
    const port = Number(u.port || (secure ? 443 : 80));
    const hostname = u.hostname.replace(/^\[|\]$/g, "");
    const conn = secure
      ? await Deno.connectTls({ hostname, port })
      : await Deno.connect({ hostname, port });
    if ("setNoDelay" in conn) (conn as Deno.TcpConn).setNoDelay(true);
    this.#conn = conn;
    const keyBytes = crypto.getRandomValues(new Uint8Array(16));
    const key = btoa(String.fromCharCode(...keyBytes));
    const request = [
      `GET ${u.pathname}${u.search} HTTP/1.1`,
      `Host: ${u.host}`,
      "Upgrade: websocket",
      "Connection: Upgrade",
      `Sec-WebSocket-Key: ${key}`,
      "Sec-WebSocket-Version: 13",
      ...(protocols.length ? [`Sec-WebSocket-Protocol: ${protocols.join(", ")}`] : []),
      "",
      "",
    ].join("\r\n");
    await writeAll(conn, encoder.encode(request));
    const [head, rest] = await readHttpHead(conn, 8192);
    const lines = head.split("\r\n");
    if (!/^HTTP\/1\.1 101\b/.test(lines[0])) throw new Error(`upgrade refused: ${lines[0]}`);
    const headers = new Map<string, string>();
    for (const line of lines.slice(1)) {
      const i = line.indexOf(":");
      if (i > 0) headers.set(line.slice(0, i).trim().toLowerCase(), line.slice(i + 1).trim());
    }
    const expected = await acceptKey(key);
    if (headers.get("sec-websocket-accept") !== expected) {
      throw new Error("upgrade refused: bad Sec-WebSocket-Accept");
    }
    this.protocol = headers.get("sec-websocket-protocol") ?? "";
    if (protocols.length && !protocols.includes(this.protocol)) {
      throw new Error(`server chose no offered subprotocol (${this.protocol || "none"})`);
    }
    this.#writes.attach(conn);
    this.readyState = TcpWebSocket.OPEN;
    this.emit("open", new Event("open"));
    this.#readLoop(conn, rest).catch((err) => this.fail(err));
  }

  /** Sends one binary or text message. */
  send(data: Uint8Array | ArrayBuffer | string): void {
    if (this.readyState !== TcpWebSocket.OPEN) return;
    if (typeof data === "string") this.#enqueue(OP.text, encoder.encode(data));
    else this.#enqueue(OP.binary, data instanceof Uint8Array ? data : new Uint8Array(data));
  }

  /** Starts the closing handshake. */
  close(code = 1000, reason = ""): void {
    if (this.readyState >= TcpWebSocket.CLOSING) return;
    if (this.readyState === TcpWebSocket.CONNECTING) {
      this.finish(code, reason, false);
      return;
    }
    this.readyState = TcpWebSocket.CLOSING;
    this.#sendClose(code, reason);
    // A server that never answers the close frame must not hold the socket forever.
    this.#closeTimer = setTimeout(() => this.finish(code, reason, true), 2000);
  }

  #sendClose(code: number, reason: string): void {
    if (this.#closeSent) return;
    this.#closeSent = true;
    this.#enqueue(OP.close, closeBody(code, reason));
  }

  /**
   * Sends one binary message of `size` bytes that `fill` writes in place: the message is
   * encoded straight into the frame buffer and masked there, without intermediate copies.
   */
  sendWith(size: number, fill: (body: Uint8Array) => void): void {
    if (this.readyState !== TcpWebSocket.OPEN) return;
    const [frame, body] = frameBuffer(OP.binary, size);
    fill(body);
    maskInPlace(frame, body);
    this.#push(frame);
  }

  /**
   * Sends the binary message `buffer[at, end)` without copying it: the header and masking
   * key go into the (at least 14) free bytes before `at`, the body is masked where it is.
   */
  sendOwned(buffer: Uint8Array, at: number, end: number): void {
    if (this.readyState !== TcpWebSocket.OPEN) return;
    const size = end - at;
    const header = size < 126 ? 2 : size < 65536 ? 4 : 10;
    const start = at - 4 - header;
    buffer[start] = 0x80 | OP.binary;
    if (size < 126) buffer[start + 1] = 0x80 | size;
    else if (size < 65536) {
      buffer[start + 1] = 0x80 | 126;
      buffer[start + 2] = size >> 8;
      buffer[start + 3] = size & 0xff;
    } else {
      buffer[start + 1] = 0x80 | 127;
      const view = new DataView(buffer.buffer, buffer.byteOffset + start + 2, 8);
      view.setUint32(0, Math.floor(size / 2 ** 32));
      view.setUint32(4, size >>> 0);
    }
    const frame = buffer.subarray(start, end);
    crypto.getRandomValues(frame.subarray(header, header + 4));
    maskInPlace(frame, frame.subarray(header + 4));
    this.#push(frame);
  }

  #enqueue(opcode: number, payload: Uint8Array): void {
    const [frame, body] = frameBuffer(opcode, payload.length);
    body.set(payload);
    maskInPlace(frame, body);
    this.#push(frame);
  }

  #push(frame: Uint8Array): void {
    this.#writes.push(frame);
  }

  async #readLoop(conn: Deno.Conn, initial: Uint8Array): Promise<void> {
    // Small frames are parsed out of one reused read buffer (and copied out); a frame
    // larger than the buffer is read straight into a buffer of its own exact size, so a
    // batch of deliveries costs one allocation and no copy of its bulk.
    const buf = new Uint8Array(Math.max(64 * 1024, initial.length));
    buf.set(initial);
    let len = initial.length;
    let fragments: Uint8Array[] = [];
    let fragmentOp = 0;
    const h = frameHeader();
    while (true) {
      let pos = 0;
      while (parseHeader(buf, pos, len, h)) {
        if (h.masked) throw new Error("server frames must not be masked");
        const { size, body: at, fin, opcode } = h;
        if (size > MAX_MESSAGE_BYTES) throw new Error(`server frame of ${size} bytes`);
        let payload: Uint8Array;
        if (len - at >= size) {
          payload = buf.slice(at, at + size);
          pos = at + size;
        } else if (at - pos + size <= buf.length) {
          break; // fits once the buffer is compacted: read more first
        } else {
          payload = new Uint8Array(size);
          payload.set(buf.subarray(at, len));
          let filled = len - at;
          while (filled < size) {
            const n = await conn.read(payload.subarray(filled));
            if (n === null) {
              this.finish(1006, "connection lost", false);
              return;
            }
            filled += n;
          }
          pos = len;
        }
        if (opcode === OP.ping) {
          this.#enqueue(OP.pong, payload);
        } else if (opcode === OP.pong) {
          // Unsolicited pongs are allowed and ignored.
        } else if (opcode === OP.close) {
          const code = payload.length >= 2 ? (payload[0] << 8) | payload[1] : 1005;
          const reason = payload.length > 2 ? decoder.decode(payload.subarray(2)) : "";
          this.readyState = TcpWebSocket.CLOSING;
          this.#sendClose(code === 1005 ? 1000 : code, "");
          await this.#drainWrites();
          this.finish(code, reason, true);
          return;
        } else {
          if (opcode !== OP.continuation) {
            fragmentOp = opcode;
            fragments = [];
          }
          fragments.push(payload);
          if (fin) {
            const whole = fragments.length === 1 ? fragments[0] : concatBytes(...fragments);
            fragments = [];
            this.#deliver(fragmentOp, whole);
          }
        }
      }
      if (pos > 0) {
        buf.copyWithin(0, pos, len);
        len -= pos;
      }
      const n = await conn.read(buf.subarray(len));
      if (n === null) {
        this.finish(1006, "connection lost", false);
        return;
      }
      len += n;
    }
  }

  #deliver(opcode: number, payload: Uint8Array): void {
    if (this.readyState !== TcpWebSocket.OPEN) return;
    // Binary data is a Uint8Array (the ArqonBus client accepts it), not an ArrayBuffer.
    const data = opcode === OP.text ? decoder.decode(payload) : payload;
    this.emit("message", new MessageEvent("message", { data }));
  }

  async #drainWrites(): Promise<void> {
    while (this.#writes.busy) await new Promise((r) => setTimeout(r, 1));
  }

  protected override release(): void {
    clearTimeout(this.#closeTimer);
    try {
      this.#conn?.close();
    } catch { /* already closed */ }
    this.#conn = null;
    this.#writes.clear();
  }
}

/**
 * A client frame of `size` body bytes: FIN set, header and a fresh random masking key
 * (RFC 6455 §5.3) written, body left for the caller. The buffer starts 2 bytes early when
 * that puts the body on a 4-byte boundary, so masking can run on whole words.
 */
function frameBuffer(opcode: number, size: number): [Uint8Array, Uint8Array] {
  const header = size < 126 ? 2 : size < 65536 ? 4 : 10;
  const pad = (4 - ((header + 4) & 3)) & 3;
  const backing = new Uint8Array(pad + header + 4 + size);
  const frame = backing.subarray(pad);
  frame[0] = 0x80 | opcode;
  if (size < 126) frame[1] = 0x80 | size;
  else if (size < 65536) {
    frame[1] = 0x80 | 126;
    frame[2] = size >> 8;
    frame[3] = size & 0xff;
  } else {
    frame[1] = 0x80 | 127;
    const view = new DataView(backing.buffer, pad + 2, 8);
    view.setUint32(0, Math.floor(size / 2 ** 32));
    view.setUint32(4, size >>> 0);
  }
  crypto.getRandomValues(frame.subarray(header, header + 4));
  return [frame, frame.subarray(header + 4)];
}

/** XORs `body` with the masking key stored just before it in `frame`. */
function maskInPlace(frame: Uint8Array, body: Uint8Array): void {
  xorMask(body, readMaskKey(frame, body.byteOffset - frame.byteOffset - 4));
}
