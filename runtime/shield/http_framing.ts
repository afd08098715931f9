/**
 * Where a client is in the HTTP/1.1 requests it sends on one connection: in a request
 * head, in a body (by `Content-Length` or chunked), or between requests. The front door
 * pipes HTTP connections to `Deno.serve` byte for byte and uses this to put deadlines on
 * each part (a slowloris that never finishes its head or body is cut) and to refuse heads
 * over 16 KiB with a 431. It changes no byte but the heads it is told to rewrite (the
 * front door adds the client's address): `Deno.serve` parses them again.
 * @module
 */

/** Largest request head accepted (request line and headers): larger ones get a 431. */
export const MAX_HEAD_BYTES = 16 * 1024;
/** Longest chunk-size or trailer line accepted. */
const MAX_LINE_BYTES = 4096;

/** The part of a request the client is sending (`between`: none). */
export type RequestPhase = "between" | "head" | "body";

/** Why a request stream cannot go on, with the HTTP status the client gets. */
export interface FramingProblem {
  readonly status: 400 | 431;
  readonly code: "PROTOCOL_VIOLATION" | "FRAME_TOO_LARGE";
  readonly message: string;
}

/** Where in a body the stream is: length-delimited, or a part of a chunked body. */
type BodyState = "length" | "size" | "data" | "data-end" | "trailer";

const CR = 13;
const LF = 10;

/**
 * Follows the requests of one connection. Feed it every byte the client sends; it tells
 * which phase the stream is in and when a request starts or ends.
 *
 * @example
 * ```ts
 * import { RequestFraming } from "./http_framing.ts";
 *
 * const framing = new RequestFraming();
 * framing.feed(new TextEncoder().encode("POST / HTTP/1.1\r\ncontent-length: 3\r\n\r\nab"));
 * framing.phase; // "body"
 * framing.feed(new TextEncoder().encode("c"));
 * framing.phase; // "between"
 * ```
 */
export class RequestFraming {
  #phase: RequestPhase = "between";
  /** Bytes of the head so far (up to MAX_HEAD_BYTES). */
  #head = new Uint8Array(0);
  #headLen = 0;
  /** Body: bytes still expected of a `Content-Length` body or of a chunk. */
  #remaining = 0;
  /** Body framing: length-delimited, or the part of a chunked body being read. */
  #body: BodyState = "length";
  #line = "";
  #lineBytes = 0;
  /** Requests whose head arrived; a count the front door compares to responses. */
  requests = 0;
  /** Set by `upgrade()`: the bytes are no longer HTTP and pass through unframed. */
  #upgraded = false;
  readonly #rewrite: ((head: string) => Uint8Array) | undefined;

  /** Follows a stream; `rewrite` gives the bytes passed on for each head (default: as is). */
  constructor(rewrite?: (head: string) => Uint8Array) {
    this.#rewrite = rewrite;
  }

  /** The phase after the bytes fed so far. */
  get phase(): RequestPhase {
    return this.#phase;
  }

  /**
   * Takes the next bytes of the stream and appends to `out` the bytes to pass on: body
   * bytes at once (views of `bytes`), a head only once it is complete, so the server never
   * sees half a head. Returns a problem when the stream is not HTTP the front door can
   * follow (the connection should then be answered and closed).
   */
  feed(bytes: Uint8Array, out: Uint8Array[] = []): FramingProblem | undefined {
    let i = 0;
    while (i < bytes.length) {
      if (this.#upgraded) {
        out.push(bytes.subarray(i));
        return undefined;
      }
      if (this.#phase === "between") {
        // Blank lines between requests are allowed (RFC 9112 §2.2), and dropped.
        if (bytes[i] === CR || bytes[i] === LF) {
          i++;
          continue;
        }
        this.#phase = "head";
        this.#headLen = 0;
      }
      if (this.#phase === "head") {
        const r = this.#feedHead(bytes, i, out);
        if (typeof r !== "number") return r;
        i = r;
      } else {
        const r = this.#feedBody(bytes, i);
        if (typeof r !== "number") return r;
        if (r > i) out.push(bytes.subarray(i, r));
        i = r;
      }
    }
    return undefined;
  }

  /** The server switched protocols (101): every byte from now on is passed as is. */
  upgrade(): void {
    this.#upgraded = true;
    this.#phase = "between";
  }

  /** Starts the stream after a head that was read elsewhere (the front door's first one). */
  afterHead(head: string): FramingProblem | undefined {
    this.requests++;
    return this.#startBody(head);
  }

  #feedHead(bytes: Uint8Array, from: number, out: Uint8Array[]): number | FramingProblem {
    if (this.#head.length === 0) this.#head = new Uint8Array(MAX_HEAD_BYTES);
    for (let i = from; i < bytes.length; i++) {
      if (this.#headLen === MAX_HEAD_BYTES) return headTooLarge();
      const b = bytes[i];
      this.#head[this.#headLen++] = b;
      const n = this.#headLen;
      if (b === LF && n >= 4 && this.#head[n - 2] === CR && this.#head[n - 3] === LF) {
        const head = new TextDecoder().decode(this.#head.subarray(0, n - 4));
        out.push(this.#rewrite ? this.#rewrite(head) : this.#head.slice(0, n));
        // Held only while a head is being read: an idle connection keeps no buffer.
        this.#head = new Uint8Array(0);
        this.requests++;
        const problem = this.#startBody(head);
        return problem ?? i + 1;
      }
    }
    return bytes.length;
  }

  #startBody(head: string): FramingProblem | undefined {
    let length: string | undefined;
    let chunked = false;
    for (const line of head.split("\r\n").slice(1)) {
      const colon = line.indexOf(":");
      if (colon <= 0) continue;
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      if (name === "transfer-encoding") chunked = /(^|,)\s*chunked\s*$/i.test(value);
      else if (name === "content-length") {
        if (length !== undefined && length !== value) {
          return badRequest("conflicting Content-Length");
        }
        length = value;
      }
    }
    if (chunked) {
      this.#phase = "body";
      this.#body = "size";
      this.#line = "";
      this.#lineBytes = 0;
      return undefined;
    }
    if (length === undefined || length === "0") {
      this.#phase = "between";
      return undefined;
    }
    if (!/^\d{1,15}$/.test(length)) return badRequest("malformed Content-Length");
    this.#phase = "body";
    this.#body = "length";
    this.#remaining = Number(length);
    return undefined;
  }

  #feedBody(bytes: Uint8Array, from: number): number | FramingProblem {
    let i = from;
    while (i < bytes.length && this.#phase === "body") {
      switch (this.#body) {
        case "length":
        case "data": {
          const take = Math.min(this.#remaining, bytes.length - i);
          this.#remaining -= take;
          i += take;
          if (this.#remaining === 0) {
            if (this.#body === "length") this.#phase = "between";
            else this.#startLine("data-end");
          }
          break;
        }
        case "size":
        case "data-end":
        case "trailer": {
          const b = bytes[i++];
          if (++this.#lineBytes > MAX_LINE_BYTES) return badRequest("chunk line too long");
          if (b !== LF) {
            if (b !== CR) this.#line += String.fromCharCode(b);
            break;
          }
          const line = this.#line;
          this.#startLine(this.#body);
          if (this.#body === "data-end") {
            if (line !== "") return badRequest("chunk data longer than its size");
            this.#body = "size";
          } else if (this.#body === "size") {
            const size = line.split(";")[0].trim();
            if (!/^[0-9a-fA-F]{1,12}$/.test(size)) return badRequest("malformed chunk size");
            this.#remaining = parseInt(size, 16);
            if (this.#remaining === 0) this.#body = "trailer";
            else this.#body = "data";
          } else if (line === "") {
            this.#phase = "between";
          }
          break;
        }
      }
    }
    return i;
  }

  #startLine(next: BodyState): void {
    this.#body = next;
    this.#line = "";
    this.#lineBytes = 0;
  }
}

function headTooLarge(): FramingProblem {
  return {
    status: 431,
    code: "FRAME_TOO_LARGE",
    message: `request head exceeds ${MAX_HEAD_BYTES} bytes`,
  };
}

function badRequest(message: string): FramingProblem {
  return { status: 400, code: "PROTOCOL_VIOLATION", message };
}

/** A request head read off a fresh connection. */
export interface RequestHead {
  /** The head as text, without the blank line. */
  readonly head: string;
  /** The head's bytes, with the blank line. */
  readonly raw: Uint8Array;
  /** Bytes read past the head. */
  readonly rest: Uint8Array;
}

/**
 * Reads the first request head of a connection (up to {@linkcode MAX_HEAD_BYTES}): the
 * head, a 431 problem when it is larger, or null when the peer closed first.
 */
export async function readRequestHead(
  conn: Deno.Conn,
): Promise<RequestHead | FramingProblem | null> {
  const buf = new Uint8Array(MAX_HEAD_BYTES);
  let len = 0;
  let scanned = 3;
  while (len < buf.length) {
    const n = await conn.read(buf.subarray(len));
    if (n === null) return null;
    len += n;
    for (let i = scanned; i < len; i++) {
      if (buf[i] === LF && buf[i - 1] === CR && buf[i - 2] === LF && buf[i - 3] === CR) {
        return {
          head: new TextDecoder().decode(buf.subarray(0, i - 3)),
          raw: buf.slice(0, i + 1),
          rest: buf.slice(i + 1, len),
        };
      }
    }
    scanned = Math.max(3, len);
  }
  return headTooLarge();
}
