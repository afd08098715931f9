/**
 * A reader of server WebSocket frames on a raw TCP connection (see `RawTcpWs` in
 * ../support.ts for the handshake), for scenarios that must both write hostile bytes and
 * see exactly what the node answers: frames, a close code, or the end of the connection.
 * @module
 */
import { RawTcpWs } from "../support.ts";

/** What the next read produced. */
export type ServerEvent =
  | { kind: "frame"; opcode: number; fin: boolean; payload: Uint8Array }
  | { kind: "eof" }
  | { kind: "timeout" };

/** Parses server frames (unmasked) from a raw connection, reading only when asked. */
export class FrameReader {
  #buf: Uint8Array;
  #end: number;
  #pos = 0;
  readonly #conn: Deno.Conn;
  #pending: Promise<number | null> | null = null;

  /** `rest` is what the handshake read past the 101 response. */
  constructor(conn: Deno.Conn, rest: Uint8Array = new Uint8Array(0)) {
    this.#conn = conn;
    this.#buf = new Uint8Array(Math.max(64 * 1024, rest.length * 2));
    this.#buf.set(rest);
    this.#end = rest.length;
  }

  /** Opens a raw WebSocket and a reader on it. */
  static async open(port: number, protocol = "arqon.v1.proto"): Promise<[RawTcpWs, FrameReader]> {
    const ws = await RawTcpWs.open(port, protocol);
    return [ws, new FrameReader(ws.conn, ws.rest)];
  }

  /** The next server frame, the end of the connection, or a timeout after `ms`. */
  async next(ms: number): Promise<ServerEvent> {
    const deadline = Date.now() + ms;
    while (true) {
      const frame = this.#parse();
      if (frame) return frame;
      const left = deadline - Date.now();
      if (left <= 0) return { kind: "timeout" };
      if (this.#end === this.#buf.length) this.#grow();
      // A read left pending by a timeout is reused, never raced twice on the same buffer.
      this.#pending ??= this.#conn.read(this.#buf.subarray(this.#end)).catch(() => null);
      let timer: ReturnType<typeof setTimeout> | undefined;
      const n = await Promise.race([
        this.#pending,
        new Promise<number>((r) => timer = setTimeout(() => r(-1), left)),
      ]);
      clearTimeout(timer);
      if (n === -1) return { kind: "timeout" };
      this.#pending = null;
      if (n === null) return { kind: "eof" };
      this.#end += n;
    }
  }

  #grow(): void {
    if (this.#pos > 0) {
      this.#buf.copyWithin(0, this.#pos, this.#end);
      this.#end -= this.#pos;
      this.#pos = 0;
      if (this.#end < this.#buf.length) return;
    }
    const bigger = new Uint8Array(this.#buf.length * 2);
    bigger.set(this.#buf.subarray(0, this.#end));
    this.#buf = bigger;
  }

  #parse(): ServerEvent | null {
    const b = this.#buf;
    const start = this.#pos;
    if (start + 2 > this.#end) return null;
    let len = b[start + 1] & 0x7f;
    let at = start + 2;
    if (len === 126) {
      if (at + 2 > this.#end) return null;
      len = (b[at] << 8) | b[at + 1];
      at += 2;
    } else if (len === 127) {
      if (at + 8 > this.#end) return null;
      len = Number(new DataView(b.buffer, b.byteOffset + at, 8).getBigUint64(0));
      at += 8;
    }
    if (at + len > this.#end) {
      if (at + len - start > this.#buf.length) {
        const bigger = new Uint8Array(at + len - start);
        bigger.set(b.subarray(start, this.#end));
        this.#end -= start;
        this.#pos = 0;
        this.#buf = bigger;
      }
      return null;
    }
    this.#pos = at + len;
    if (this.#pos === this.#end) this.#pos = this.#end = 0;
    return {
      kind: "frame",
      opcode: b[start] & 0x0f,
      fin: (b[start] & 0x80) !== 0,
      payload: b.slice(at, at + len),
    };
  }
}

/** The close code of a close frame's payload (1005 when it has none). */
export function closeCodeOf(payload: Uint8Array): number {
  return payload.length >= 2 ? (payload[0] << 8) | payload[1] : 1005;
}
