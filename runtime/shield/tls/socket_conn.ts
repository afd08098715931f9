/**
 * A `node:net`/`node:tls` socket seen as the part of `Deno.Conn` the node's listeners use
 * (`read`, `write`, `closeWrite`, `close`, addresses), so that decrypted TLS connections
 * reach the front door in process instead of over a plain loopback listener that any
 * local program could connect to.
 *
 * Reads are pulled: the socket is paused while a chunk waits for a reader, so a client
 * the node does not read from waits in TCP backpressure as on any other connection.
 * @module
 */
import type { Socket } from "node:net";
import type { PeerAddress } from "./client_address.ts";

/** A connected socket as a (partial) `Deno.Conn`. */
export class SocketConn {
  readonly #socket: Socket;
  /** Received bytes not yet read. */
  #pending: Uint8Array | null = null;
  #ended = false;
  #error: Error | null = null;
  #wake: (() => void) | null = null;
  /** The real client. */
  readonly remoteAddr: Deno.NetAddr;
  /** The node's end. */
  readonly localAddr: Deno.NetAddr;
  /** Set by the runtime's `Deno.Conn`; unused here. */
  readonly rid = -1;

  /** Wraps a connected socket whose client is `peer`. */
  constructor(socket: Socket, peer: PeerAddress) {
    this.#socket = socket;
    this.remoteAddr = { transport: "tcp", hostname: peer.hostname, port: peer.port };
    this.localAddr = {
      transport: "tcp",
      hostname: socket.localAddress ?? "",
      port: socket.localPort ?? 0,
    };
    socket.pause();
    socket.on("data", (chunk: Uint8Array) => {
      this.#pending = this.#pending ? concat(this.#pending, chunk) : new Uint8Array(chunk);
      socket.pause();
      this.#notify();
    });
    socket.on("end", () => {
      this.#ended = true;
      this.#notify();
    });
    socket.on("close", () => {
      this.#ended = true;
      this.#notify();
    });
    socket.on("error", (err: Error) => {
      this.#error = err;
      this.#notify();
    });
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
  }

  /** Reads into `p`; null at the end of the stream. */
  async read(p: Uint8Array): Promise<number | null> {
    while (!this.#pending) {
      if (this.#error || this.#ended || this.#socket.destroyed) return null;
      const woken = new Promise<void>((resolve) => this.#wake = resolve);
      this.#socket.resume();
      await woken;
    }
    const chunk = this.#pending;
    const n = Math.min(p.length, chunk.length);
    p.set(chunk.subarray(0, n));
    this.#pending = n < chunk.length ? chunk.subarray(n) : null;
    return n;
  }

  /** Writes all of `p` (copied: callers reuse their buffers); resolves once accepted. */
  async write(p: Uint8Array): Promise<number> {
    const socket = this.#socket;
    if (socket.destroyed || this.#error) throw new Deno.errors.BrokenPipe("connection closed");
    const flushed = socket.write(new Uint8Array(p));
    if (!flushed) {
      await new Promise<void>((resolve) => {
        const done = () => {
          socket.off("drain", done);
          socket.off("close", done);
          resolve();
        };
        socket.on("drain", done);
        socket.on("close", done);
      });
    }
    return p.length;
  }

  /** Ends the sending side. */
  closeWrite(): Promise<void> {
    this.#socket.end();
    return Promise.resolve();
  }

  /** Closes the connection. */
  close(): void {
    this.#socket.destroy();
    this.#ended = true;
    this.#notify();
  }

  /** Disables Nagle's algorithm. */
  setNoDelay(noDelay = true): void {
    this.#socket.setNoDelay(noDelay);
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
