/**
 * Answers written by hand on a raw connection, before or instead of the HTTP server: the
 * front door's refusals (503 over the cap, 408 too slow, 431 head too large).
 * @module
 */
import { writeAll } from "../transport/mod.ts";

/** Time an answer may take to be written before the connection is closed anyway. */
export const ANSWER_WRITE_MS = 1000;

/** A JSON error response `{"error": {code, message}}`. */
export function problemResponse(status: number, code: string, message: string): Response {
  return Response.json({ error: { code, message } }, { status });
}

/** Writes a `Response` on a raw connection (HTTP/1.1, closed after). */
export async function writeResponse(conn: Deno.Conn, res: Response): Promise<void> {
  const body = new Uint8Array(await res.arrayBuffer());
  let head = `HTTP/1.1 ${res.status} ${res.statusText || "Error"}\r\n`;
  res.headers.forEach((v, k) => head += `${k}: ${v}\r\n`);
  head += `content-length: ${body.length}\r\nconnection: close\r\n\r\n`;
  const encoded = new TextEncoder().encode(head);
  const out = new Uint8Array(encoded.length + body.length);
  out.set(encoded);
  out.set(body, encoded.length);
  await writeAll(conn, out);
}

/** Time a lingering close reads what the client still sends. */
const LINGER_MS = 500;
/** Bytes a lingering close reads at most. */
const LINGER_BYTES = 256 * 1024;

/**
 * Writes `res` (giving up after a second: the client may not read) and closes. With
 * `linger`, the write side is closed first and what the client still sends is read for a
 * moment before the close: closing a socket with unread bytes resets it, and a reset can
 * destroy the answer before the client read it. `true` reads and drops here (only when
 * nothing else reads `conn`); a promise is a read already pending on `conn` (a head being
 * read when its deadline passed), which goes on consuming: the close waits for it to end.
 */
export async function answerAndClose(
  conn: Deno.Conn,
  res: Response,
  linger: boolean | Promise<unknown> = false,
): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([
      writeResponse(conn, res),
      new Promise((r) => timer = setTimeout(r, ANSWER_WRITE_MS)),
    ]);
    clearTimeout(timer);
    if (linger) {
      await (conn as Deno.TcpConn).closeWrite();
      await Promise.race([
        linger === true ? drain(conn) : linger.catch(() => {}),
        new Promise((r) => timer = setTimeout(r, LINGER_MS)),
      ]);
    }
  } catch {
    /* the client is gone */
  } finally {
    clearTimeout(timer);
    closeQuietly(conn);
  }
}

async function drain(conn: Deno.Conn): Promise<void> {
  const buf = new Uint8Array(16 * 1024);
  let read = 0;
  while (read < LINGER_BYTES) {
    const n = await conn.read(buf);
    if (n === null) return;
    read += n;
  }
}

/** Closes a connection that may be closed already. */
export function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch { /* already closed */ }
}
