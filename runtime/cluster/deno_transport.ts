/**
 * The node's NATS socket on Deno's own TCP (`Deno.connect`), for nats.js v3's core in place of
 * `@nats-io/transport-node`'s `node:net` socket. Under Deno, `node:net` runs every read and
 * write through Node's stream emulation (a `data` event, a write request and its callback, a
 * deferred per frame; in a node's profile during cross-node delivery, `handleWriteReq` and its
 * `send` calls were the largest named entries). Here a read is one `read` op into a reused
 * buffer (copied out at its length: the parser keeps views of what it is given), and what
 * nats.js flushes while a write is under way goes out together in one write. Measured with
 * 1 KB messages at 22-26k/s, alternated, load 8-10: a subscriber 2.7-3.2 µs of CPU per
 * message against 3.8-4.7 on `node:net`, a publisher 4.2-4.9 against 4.6-5.7.
 *
 * Used when the node connects without TLS files of its own (`--cluster-tls-*`): a server that
 * asks for TLS gets `Deno.startTls` with the system's roots; client certificates stay with
 * the `node:net` transport. nats.js keeps one transport factory per process (each `connect`
 * sets it, every reconnect reads it): a connection without TLS files reconnects on whichever
 * was set last (both serve it), and `connectCluster` stays on `node:net` for every connection
 * once one with TLS files exists in the process.
 * @module
 */
import {
  checkOptions,
  type ConnectionOptions,
  extractProtocolMessage,
  INFO,
  type NatsConnection,
  NatsConnectionImpl,
  type Server,
  type ServerInfo,
  setTransportFactory,
  type Transport,
} from "@nats-io/transport-node";

/** Bytes read from the socket at most per `read` op. */
const READ_BUFFER = 256 * 1024;

/** Connects to NATS as `connect` of `@nats-io/transport-node` does, on Deno's TCP socket. */
export function connectDenoTcp(options: ConnectionOptions): Promise<NatsConnection> {
  setTransportFactory({ factory: () => new DenoTcpTransport(), defaultPort: 4222 });
  return NatsConnectionImpl.connect(options);
}

/** One connection attempt's socket (nats.js makes a new transport for every (re)connect). */
export class DenoTcpTransport implements Transport {
  /** Reported to the server in CONNECT. */
  readonly lang = "nats.js";
  /** Reported to the server in CONNECT. */
  readonly version = "3.4.0";
  /** Why the socket closed, when it failed. */
  closeError?: Error;
  #conn: Deno.TcpConn | Deno.TlsConn | undefined;
  #encrypted = false;
  #connected = false;
  #done = false;
  /** What the INFO read took from the socket, handed to the parser first. */
  #first: Uint8Array | null = null;
  #pending: Uint8Array[] = [];
  #pendingBytes = 0;
  #writing: Promise<void> | null = null;
  readonly #closed = Promise.withResolvers<void | Error>();

  /** Whether the transport is done (closed, failed or discarded). */
  get isClosed(): boolean {
    return this.#done;
  }

  /** Opens the socket, reads the server's INFO and starts TLS when the server asks for it. */
  async connect(server: Server, options: ConnectionOptions): Promise<void> {
    if (options.tls) throw new Error("this transport takes no TLS options");
    try {
      const tcp = await Deno.connect({ hostname: server.hostname, port: server.port });
      tcp.setNoDelay(true);
      this.#conn = tcp;
      const info = await this.#readInfo();
      checkOptions(info, options);
      // nats.js starts TLS when the server requires it, or offers it and TLS is not
      // turned off (`tls: null`).
      if (info.tls_required || (info.tls_available && options.tls !== null)) {
        this.#conn = await Deno.startTls(tcp, { hostname: server.tlsName || server.hostname });
        this.#encrypted = true;
        // A bad certificate shows at the first write.
        await this.#conn.write(new Uint8Array(0));
      }
      if (this.#done) throw new Error("closed while connecting");
      this.#connected = true;
    } catch (err) {
      this.#done = true;
      try {
        this.#conn?.close();
      } catch { /* already closed */ }
      throw err;
    }
  }

  async #readInfo(): Promise<ServerInfo> {
    let seen = new Uint8Array(0);
    const buf = new Uint8Array(4096);
    while (true) {
      const n = await this.#conn!.read(buf);
      if (n === null) throw new Error("socket closed while expecting INFO");
      const more = new Uint8Array(seen.length + n);
      more.set(seen);
      more.set(buf.subarray(0, n), seen.length);
      seen = more;
      const line = extractProtocolMessage(seen);
      if (line === "") continue;
      const m = INFO.exec(line);
      if (!m) throw new Error("unexpected response from server");
      // The parser reads the INFO again (and whatever followed it) from the first chunk.
      this.#first = seen;
      return JSON.parse(m[1]) as ServerInfo;
    }
  }

  /** What the server sends, chunk by chunk, until the socket closes. */
  async *[Symbol.asyncIterator](): AsyncIterableIterator<Uint8Array> {
    if (this.#first) {
      const first = this.#first;
      this.#first = null;
      yield first;
    }
    const buf = new Uint8Array(READ_BUFFER);
    let reason: Error | undefined;
    while (!this.#done) {
      let n: number | null;
      try {
        n = await this.#conn!.read(buf);
      } catch (err) {
        if (!this.#done) reason = err as Error;
        break;
      }
      if (n === null) break;
      // A copy at the read's length: messages handed on keep views of it, the buffer is
      // read into again.
      if (n > 0) yield buf.slice(0, n);
    }
    this.#close(reason);
  }

  /** Whether TLS runs on the socket. */
  isEncrypted(): boolean {
    return this.#encrypted;
  }

  /** Queues `frame`; frames queued while a write is under way go out in one write after it. */
  send(frame: Uint8Array): void {
    if (this.#done || !this.#conn) return;
    this.#pending.push(frame);
    this.#pendingBytes += frame.length;
    if (!this.#writing) this.#writing = this.#writeAll();
  }

  async #writeAll(): Promise<void> {
    try {
      while (this.#pending.length > 0 && !this.#done) {
        const chunk = this.#pending.length === 1
          ? this.#pending[0]
          : joined(this.#pending, this.#pendingBytes);
        this.#pending = [];
        this.#pendingBytes = 0;
        for (let at = 0; at < chunk.length;) at += await this.#conn!.write(chunk.subarray(at));
      }
    } catch (err) {
      // The read side sees the socket closed and ends the transport with this reason.
      this.closeError ??= err as Error;
      try {
        this.#conn?.close();
      } catch { /* already closed */ }
    } finally {
      this.#writing = null;
    }
  }

  /** Closes the socket (nats.js closing the connection); what was queued is written first. */
  async close(err?: Error): Promise<void> {
    if (!err && this.#writing) await this.#writing;
    this.#close(err);
  }

  /** Drops the socket so that nats.js reconnects (a stale connection, a forced reconnect). */
  disconnect(): void {
    this.#close(undefined);
  }

  /** Resolves once the socket closed, with the error that closed it if any. */
  closed(): Promise<void | Error> {
    return this.#closed.promise;
  }

  /** Drops the socket of an attempt nats.js gave up on, telling nobody. */
  discard(): void {
    this.#done = true;
    try {
      this.#conn?.close();
    } catch { /* already closed */ }
  }

  #close(err: Error | undefined): void {
    if (this.#done) return;
    this.#done = true;
    this.closeError ??= err;
    try {
      this.#conn?.close();
    } catch { /* already closed */ }
    if (this.#connected) this.#closed.resolve(this.closeError);
  }
}

/** `parts` (of `total` bytes) in one buffer. */
function joined(parts: Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
