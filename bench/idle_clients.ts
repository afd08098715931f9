/**
 * A load role for the idle-connection measurements (`bench/idle_bench.ts`,
 * `tests/adversarial/ws_idle_memory_test.ts`): opens `count` WebSocket connections on raw
 * TCP, each saying hello in a hand-written frame and reading its welcome, then holds them
 * idle (answering the node's pings) until its stdin closes.
 *
 *   deno run -A bench/idle_clients.ts <port> <count>
 *
 * Prints `ready <opened>` once every connection was welcomed (or failed: a refused one is
 * not counted), then, on stdin's end, closes them and exits. Runs as its own process so
 * that its descriptors and memory are not the node's.
 * @module
 */

const enc = new TextEncoder();
const [portArg, countArg] = Deno.args;
const port = Number(portArg);
const count = Number(countArg);
// Handshakes in flight at once: enough to be quick, few enough for the accept backlog.
const PARALLEL = 64;

// Frame{hello: Hello{client_name: "idle", protocol_version: 1}} as one masked binary frame.
const HELLO = maskedFrame(
  0x2,
  new Uint8Array([0x0a, 0x08, 0x0a, 0x04, 105, 100, 108, 101, 0x10, 1]),
);
const UPGRADE = enc.encode(
  "GET /v1/ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" +
    "Sec-WebSocket-Protocol: arqon.v1.proto\r\n\r\n",
);

/** A masked client frame (key 1,2,3,4) with a body under 126 bytes. */
function maskedFrame(opcode: number, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(6 + body.length);
  out[0] = 0x80 | opcode;
  out[1] = 0x80 | body.length;
  out.set([1, 2, 3, 4], 2);
  for (let i = 0; i < body.length; i++) out[6 + i] = body[i] ^ (1 + (i & 3));
  return out;
}

/** Where the unmasked server frame at `at` ends, or -1 when `buf[..len]` lacks some of it. */
function frameEnd(buf: Uint8Array, at: number, len: number): number {
  if (len - at < 2) return -1;
  let size = buf[at + 1] & 0x7f;
  let body = at + 2;
  if (size === 126) {
    if (len - at < 4) return -1;
    size = (buf[at + 2] << 8) | buf[at + 3];
    body += 2;
  } else if (size === 127) return -1; // never for an idle connection
  return body + size <= len ? body + size : -1;
}

async function writeAll(conn: Deno.Conn, data: Uint8Array): Promise<void> {
  let off = 0;
  while (off < data.length) off += await conn.write(data.subarray(off));
}

/**
 * Opens one connection: upgrade, hello, and reads until the welcome has arrived (any
 * binary frame after the 101). Returns the connection and the bytes read past the head.
 */
async function open(): Promise<Deno.TcpConn> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await writeAll(conn, UPGRADE);
    const buf = new Uint8Array(1024);
    let len = 0;
    let head = -1;
    while (head < 0) {
      const n = await conn.read(buf.subarray(len));
      if (n === null) throw new Error("closed during the handshake");
      len += n;
      const text = new TextDecoder().decode(buf.subarray(0, len));
      head = text.indexOf("\r\n\r\n");
      if (head >= 0 && !text.startsWith("HTTP/1.1 101")) throw new Error(text.split("\r\n")[0]);
      if (len === buf.length) throw new Error("head too large");
    }
    await writeAll(conn, HELLO);
    // The welcome: one whole frame past the head.
    while (frameEnd(buf, head + 4, len) < 0) {
      if (len === buf.length) throw new Error("welcome too large");
      const n = await conn.read(buf.subarray(len));
      if (n === null) throw new Error("closed before the welcome");
      len += n;
    }
    return conn;
  } catch (err) {
    conn.close();
    throw err;
  }
}

/** Answers the node's pings until the connection ends; small frames only (idle). */
async function idle(conn: Deno.TcpConn): Promise<void> {
  const buf = new Uint8Array(256);
  let len = 0;
  try {
    while (true) {
      const n = await conn.read(buf.subarray(len));
      if (n === null) return;
      len += n;
      let end: number;
      while ((end = frameEnd(buf, 0, len)) > 0) {
        if ((buf[0] & 0x0f) === 0x9) await writeAll(conn, maskedFrame(0xa, buf.slice(2, end)));
        buf.copyWithin(0, end, len);
        len -= end;
      }
      if (len === buf.length) return; // not an idle connection any more
    }
  } catch { /* closed */ }
}

const conns: Deno.TcpConn[] = [];
let failed = 0;
let next = 0;
await Promise.all(
  Array.from({ length: Math.min(PARALLEL, count) }, async () => {
    while (next < count) {
      next++;
      try {
        conns.push(await open());
      } catch (err) {
        if (failed++ === 0) console.error(`idle_clients: a connection failed: ${err}`);
      }
    }
  }),
);
for (const c of conns) idle(c);
console.log(`ready ${conns.length}`);
// Hold until told to stop.
for await (const _ of Deno.stdin.readable) { /* wait for the end */ }
for (const c of conns) {
  try {
    c.close();
  } catch { /* already closed */ }
}
Deno.exit(0);
