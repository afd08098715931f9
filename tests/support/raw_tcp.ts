/**
 * A raw TCP test client (`Deno.connect` or `Deno.connectTls`, not our SDK): writes
 * protobuf frames each preceded by its 4-byte big-endian length, exactly as docs/API.md
 * describes, parses what the node sends the same way (by hand, not with the node's
 * framer), and lets a test wait for the frames it expects.
 * @module
 */
import { frames, type PbMessage } from "./pb.ts";

/** A recorded server frame: its kind's field number and decoded body. */
export type Received = [number, PbMessage];

/** A raw TCP connection recording what the node sends. */
export class RawTcp {
  /** Every frame, flattened out of batches. */
  readonly received: Received[] = [];
  /** The connection. */
  readonly conn: Deno.Conn;
  /** Resolves when the node closed the connection (or it failed); reading starts then. */
  #closed: Promise<void> | null = null;
  /** True once the node closed the connection. */
  isClosed = false;
  #waiters: (() => void)[] = [];

  private constructor(conn: Deno.Conn, read: boolean) {
    this.conn = conn;
    if (read) this.#closed = this.#readLoop();
  }

  /**
   * Resolves when the node closed the connection (or it failed). A connection opened
   * with `read: false` starts reading here: everything the node sent is then recorded.
   */
  get closed(): Promise<void> {
    return this.#closed ??= this.#readLoop();
  }

  /**
   * Connects to `tcp://host:port` or `tls://host:port` (with `caCerts` for TLS). With
   * `read: false` nothing is read (a client that never reads) until `closed` is asked for.
   */
  static async open(url: string, options: { caCerts?: string[]; read?: boolean } = {}) {
    const u = new URL(url);
    const hostname = u.hostname.replace(/^\[|\]$/g, "");
    const port = Number(u.port);
    const conn = u.protocol === "tls:"
      ? await Deno.connectTls({ hostname, port, caCerts: options.caCerts })
      : await Deno.connect({ hostname, port });
    return new RawTcp(conn, options.read ?? true);
  }

  async #readLoop(): Promise<void> {
    let buf = new Uint8Array(0);
    const chunk = new Uint8Array(64 * 1024);
    try {
      while (true) {
        const n = await this.conn.read(chunk);
        if (n === null) break;
        const joined = new Uint8Array(buf.length + n);
        joined.set(buf);
        joined.set(chunk.subarray(0, n), buf.length);
        buf = joined;
        let at = 0;
        while (buf.length - at >= 4) {
          const len = new DataView(buf.buffer, buf.byteOffset + at, 4).getUint32(0);
          if (buf.length - at - 4 < len) break;
          this.received.push(...frames(buf.slice(at + 4, at + 4 + len)));
          at += 4 + len;
        }
        buf = buf.slice(at);
        this.#notify();
      }
    } catch { /* reset: closed too */ }
    this.isClosed = true;
    this.#notify();
  }

  #notify(): void {
    const w = this.#waiters;
    this.#waiters = [];
    for (const f of w) f();
  }

  /** Writes `frame` with its length prefix. */
  async send(frame: Uint8Array): Promise<void> {
    const out = new Uint8Array(4 + frame.length);
    new DataView(out.buffer).setUint32(0, frame.length);
    out.set(frame, 4);
    await this.write(out);
  }

  /** Writes raw bytes (a test's own framing, good or bad). */
  async write(bytes: Uint8Array): Promise<void> {
    let off = 0;
    while (off < bytes.length) off += await this.conn.write(bytes.subarray(off));
  }

  /** Waits until `predicate` holds (checked after each read), or fails after `timeoutMs`. */
  async until(predicate: () => boolean, what = "condition", timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate()) {
      if (this.isClosed) throw new Error(`connection closed while waiting for ${what}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}`);
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        this.#waiters.push(resolve);
        timer = setTimeout(resolve, left);
      });
      clearTimeout(timer);
    }
  }

  /** Received frames of one kind. */
  of(kind: number): PbMessage[] {
    return this.received.filter(([k]) => k === kind).map(([, m]) => m);
  }

  /** Waits for `count` frames of `kind`; returns all of that kind. */
  async wait(kind: number, count = 1): Promise<PbMessage[]> {
    await this.until(() => this.of(kind).length >= count, `${count} frame(s) of kind ${kind}`);
    return this.of(kind);
  }

  /** Closes the connection. */
  close(): void {
    try {
      this.conn.close();
    } catch { /* already closed */ }
  }
}
