/**
 * Relays a client's HTTP/1.1 requests from the front door to the node's HTTP listener on
 * its private socket, one request at a time, so that each request head carries the real
 * client in `PEER_HEADER` (and any copy the client sent is dropped), on a connection kept
 * alive as the client asked. Bodies are forwarded as they arrive, framed by
 * `Content-Length` or `Transfer-Encoding: chunked`; an upgrade (WebSocket on the `deno`
 * engine) turns the connection into a plain byte pipe after its head. Responses need no
 * relaying logic: they flow back unchanged, in order.
 * @module
 */
import { writeAll } from "../transport/mod.ts";
import { formatAddress, type PeerAddress } from "./tls/mod.ts";

/**
 * The header carrying the real client (`host:port`) of a request relayed to the HTTP
 * listener. Trusted only on that private socket; dropped from what clients send.
 */
export const PEER_HEADER = "x-arqon-peer";

/** Largest request head relayed (the front door's limit for the first one too). */
const MAX_HEAD_BYTES = 16 * 1024;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Buffered reads off a connection, starting with bytes already read. */
class Reader {
  #buf: Uint8Array;
  readonly #conn: Deno.Conn;
  readonly #chunk = new Uint8Array(64 * 1024);

  constructor(conn: Deno.Conn, rest: Uint8Array) {
    this.#conn = conn;
    this.#buf = rest;
  }

  /** Reads more into the buffer; false at the end of the stream. */
  async #fill(): Promise<boolean> {
    const n = await this.#conn.read(this.#chunk);
    if (n === null) return false;
    const next = new Uint8Array(this.#buf.length + n);
    next.set(this.#buf);
    next.set(this.#chunk.subarray(0, n), this.#buf.length);
    this.#buf = next;
    return true;
  }

  /** The bytes up to and including the next CRLF (`limit` at most); null at a clean end. */
  async line(limit: number): Promise<Uint8Array | null> {
    let from = 0;
    while (true) {
      const i = this.#buf.indexOf(10, from);
      if (i >= 0) {
        const out = this.#buf.slice(0, i + 1);
        this.#buf = this.#buf.subarray(i + 1);
        return out;
      }
      from = this.#buf.length;
      if (from > limit) throw new Error("HTTP line too long");
      if (!(await this.#fill())) {
        if (this.#buf.length === 0) return null;
        throw new Error("connection ended inside an HTTP line");
      }
    }
  }

  /** The next request head's lines (without the blank line); null at a clean end. */
  async head(): Promise<string[] | null> {
    const lines: string[] = [];
    let size = 0;
    while (true) {
      const raw = await this.line(MAX_HEAD_BYTES - size);
      if (raw === null) {
        if (lines.length === 0) return null;
        throw new Error("connection ended inside a request head");
      }
      size += raw.length;
      const line = decoder.decode(raw).replace(/\r?\n$/, "");
      // Blank lines before a request line are tolerated (RFC 9112 §2.2).
      if (line === "" && lines.length === 0) continue;
      if (line === "") return lines;
      lines.push(line);
    }
  }

  /** Forwards exactly `n` bytes to `to`. */
  async forward(to: Deno.Conn, n: number): Promise<void> {
    while (n > 0) {
      if (this.#buf.length === 0 && !(await this.#fill())) {
        throw new Error("connection ended inside a request body");
      }
      const take = Math.min(n, this.#buf.length);
      await writeAll(to, this.#buf.subarray(0, take));
      this.#buf = this.#buf.subarray(take);
      n -= take;
    }
  }

  /** Forwards whatever is buffered, then everything the connection sends. */
  async forwardRest(to: Deno.Conn): Promise<void> {
    if (this.#buf.length) await writeAll(to, this.#buf);
    this.#buf = new Uint8Array(0);
    while (true) {
      const n = await this.#conn.read(this.#chunk);
      if (n === null) return;
      await writeAll(to, this.#chunk.subarray(0, n));
    }
  }
}

function headerOf(lines: string[], name: string): string | undefined {
  for (let i = 1; i < lines.length; i++) {
    const colon = lines[i].indexOf(":");
    if (colon > 0 && lines[i].slice(0, colon).trim().toLowerCase() === name) {
      return lines[i].slice(colon + 1).trim();
    }
  }
  return undefined;
}

/** The head as relayed: the client's `PEER_HEADER` dropped, the real client's added. */
export function relayedHead(lines: string[], client: PeerAddress): Uint8Array {
  const out = [lines[0]];
  for (let i = 1; i < lines.length; i++) {
    const colon = lines[i].indexOf(":");
    if (colon > 0 && lines[i].slice(0, colon).trim().toLowerCase() === PEER_HEADER) continue;
    out.push(lines[i]);
  }
  out.push(`${PEER_HEADER}: ${formatAddress(client)}`);
  return encoder.encode(out.join("\r\n") + "\r\n\r\n");
}

/**
 * Relays requests from `conn` to `inner`, starting with the head already read (`lines`)
 * and the bytes read past it (`rest`). Resolves when the client ends (then half-closes
 * `inner`); throws on malformed framing (the caller closes both).
 */
export async function relayRequests(
  conn: Deno.Conn,
  inner: Deno.Conn,
  lines: string[],
  rest: Uint8Array,
  client: PeerAddress,
): Promise<void> {
  const reader = new Reader(conn, rest);
  let head: string[] | null = lines;
  while (head) {
    await writeAll(inner, relayedHead(head, client));
    const upgrade = (headerOf(head, "upgrade") ?? "") !== "" &&
      /\bupgrade\b/i.test(headerOf(head, "connection") ?? "");
    if (upgrade) {
      await reader.forwardRest(inner);
      break;
    }
    const te = headerOf(head, "transfer-encoding");
    if (te !== undefined && /chunked\s*$/i.test(te)) {
      await forwardChunked(reader, inner);
    } else if (te !== undefined) {
      throw new Error(`unsupported transfer-encoding ${te}`);
    } else {
      const cl = headerOf(head, "content-length");
      if (cl !== undefined) {
        if (!/^\d{1,15}$/.test(cl)) throw new Error("bad content-length");
        await reader.forward(inner, Number(cl));
      }
    }
    head = await reader.head();
  }
  await (inner as Deno.UnixConn).closeWrite();
}

/** Forwards a chunked body as is (sizes, data, trailers), up to its last blank line. */
async function forwardChunked(reader: Reader, to: Deno.Conn): Promise<void> {
  while (true) {
    const sizeLine = await reader.line(1024);
    if (sizeLine === null) throw new Error("connection ended inside a chunked body");
    await writeAll(to, sizeLine);
    const size = parseInt(decoder.decode(sizeLine).split(";")[0].trim(), 16);
    if (!Number.isSafeInteger(size) || size < 0) throw new Error("bad chunk size");
    if (size > 0) {
      await reader.forward(to, size + 2); // data and its CRLF
      continue;
    }
    // Trailers, then the blank line that ends the body.
    while (true) {
      const trailer = await reader.line(MAX_HEAD_BYTES);
      if (trailer === null) throw new Error("connection ended inside chunked trailers");
      await writeAll(to, trailer);
      if (trailer.length <= 2) return;
    }
  }
}
