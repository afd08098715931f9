/**
 * Plumbing for hostile-client tests: a node running as its own process (so its memory
 * can be read from /proc), and a WebSocket client on a raw TCP connection that writes
 * frames by hand and can stop reading altogether.
 * @module
 */
import assert from "node:assert/strict";
import { F, num, pb, type PbField } from "../support/pb.ts";
import { RawSocket } from "../support/raw_ws.ts";
import { INSPECT_FLAG, inspectorUrlIn, rssAfterCollection } from "../support/child_inspector.ts";

const root = new URL("../../", import.meta.url);
const enc = new TextEncoder();

/** A node running as a child process on an ephemeral loopback port. */
export interface NodeChild {
  readonly pid: number;
  readonly port: number;
  readonly wsUrl: string;
  readonly httpUrl: string;
  /** Resident set size of the node process, in bytes (from /proc/<pid>/status). */
  rss(): number;
  /**
   * Size of the node process's data segments, in bytes (VmData): memory it allocated,
   * touched or not. Linux backs a fresh zeroed allocation only once written, so a buffer
   * allocated but not yet filled shows here and not in the RSS.
   */
  vmData(): number;
  /** Whether the process is still running. */
  alive(): boolean;
  /** Reads one sample from /metrics (0 when absent). */
  metric(name: string, labels?: string): Promise<number>;
  /**
   * The RSS after a full garbage collection of the node's main isolate (see
   * tests/support/child_inspector.ts); only for a child started with `inspect`.
   */
  rssAfterCollection(): Promise<number>;
  /** SIGKILLs the process and removes its data directory. */
  stop(): Promise<void>;
}

/**
 * Starts `mod.ts` with `flags` on an ephemeral port, with a fresh data directory. `inspect`:
 * with its V8 inspector open, for `rssAfterCollection`.
 */
export async function startNodeChild(
  flags: string[] = [],
  options: { inspect?: boolean } = {},
): Promise<NodeChild> {
  const dataDir = await Deno.makeTempDir({ prefix: "arqon-adv-" });
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      ...(options.inspect ? [INSPECT_FLAG] : []),
      new URL("mod.ts", root).pathname,
      "--port",
      "0",
      "--data-dir",
      dataDir,
      "--sync",
      "os",
      ...flags,
    ],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  // Keep the tail of stderr: when a child fails to start, the error says why.
  let errTail = "";
  let inspectorUrl: string | undefined;
  const errDrain = (async () => {
    try {
      for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
        errTail = (errTail + chunk).slice(-4096);
        inspectorUrl ??= inspectorUrlIn(errTail);
      }
    } catch { /* closed */ }
  })();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  // A child that never prints its ready line fails the test with its output instead of hanging it.
  const startTimer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch { /* already gone */ }
  }, 90_000);
  try {
    while (!/\(ws (ws:\/\/\S+)\)/.test(buf)) {
      const { value, done } = await reader.read();
      if (done) {
        await errDrain;
        throw new Error(`node did not start: ${buf}\nstderr: ${errTail}`);
      }
      buf += value;
    }
  } finally {
    clearTimeout(startTimer);
  }
  const wsUrl = buf.match(/\(ws (ws:\/\/\S+)\)/)![1];
  const httpUrl = buf.match(/ready on (http:\/\/\S+)/)![1];
  // Keep draining stdout so the node never blocks on a full pipe.
  const drain = (async () => {
    try {
      while (!(await reader.read()).done) { /* discard */ }
    } catch { /* closed */ }
  })();
  if (options.inspect) {
    // The inspector's line comes before the module runs, on the other pipe.
    for (let i = 0; i < 100 && !inspectorUrl; i++) await new Promise((r) => setTimeout(r, 50));
    if (!inspectorUrl) throw new Error(`the node child printed no inspector URL: ${errTail}`);
  }
  let exited = false;
  const status = child.status.then((s) => {
    exited = true;
    return s;
  });
  return {
    pid: child.pid,
    port: Number(new URL(httpUrl).port),
    wsUrl,
    httpUrl,
    rss: () => rssOf(child.pid),
    vmData: () => statusField(child.pid, "VmData"),
    alive: () => !exited,
    async metric(name, labels = "") {
      const text = await (await fetch(`${httpUrl}/metrics`)).text();
      let total = 0;
      for (const line of text.split("\n")) {
        if (line.startsWith("#")) continue;
        const [key, value] = line.split(" ");
        const bare = key.includes("{") ? key.slice(0, key.indexOf("{")) : key;
        if (bare === name && (!labels || key.includes(labels))) total += Number(value);
      }
      return total;
    },
    rssAfterCollection() {
      if (!options.inspect) throw new Error("the node child was started without inspect");
      return rssAfterCollection(inspectorUrl!, () => rssOf(child.pid));
    },
    async stop() {
      if (!exited) child.kill("SIGKILL");
      await status;
      await drain;
      await errDrain;
      await Deno.remove(dataDir, { recursive: true }).catch(() => {});
    },
  };
}

/** VmRSS of a process in bytes. */
export function rssOf(pid: number): number {
  return statusField(pid, "VmRSS");
}

/** A `kB` field of /proc/<pid>/status, in bytes. */
function statusField(pid: number, field: string): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const kb = Number(status.match(new RegExp(`^${field}:\\s+(\\d+) kB`, "m"))?.[1] ?? NaN);
  return kb * 1024;
}

/** Megabytes, for messages. */
export function mb(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

/** A masked client frame with any opcode and FIN bit; `maskKey` defaults to 1,2,3,4. */
export function clientFrame(opcode: number, payload: Uint8Array, fin = true): Uint8Array {
  const len = payload.length;
  const header = len < 126
    ? [(fin ? 0x80 : 0) | opcode, 0x80 | len]
    : len < 65536
    ? [(fin ? 0x80 : 0) | opcode, 0x80 | 126, len >> 8, len & 0xff]
    : [
      (fin ? 0x80 : 0) | opcode,
      0x80 | 127,
      0,
      0,
      0,
      0,
      (len >>> 24) & 0xff,
      (len >>> 16) & 0xff,
      (len >>> 8) & 0xff,
      len & 0xff,
    ];
  const mask = [1, 2, 3, 4];
  const out = new Uint8Array(header.length + 4 + len);
  out.set(header, 0);
  out.set(mask, header.length);
  const at = header.length + 4;
  for (let i = 0; i < len; i++) out[at + i] = payload[i] ^ mask[i & 3];
  return out;
}

/** A binary client frame carrying one protobuf `Frame`. */
export function binaryFrame(fields: PbField[]): Uint8Array {
  return clientFrame(0x2, pb(fields));
}

/** A `Publish` frame (ack none) of `payload` to `topic`. */
export function publishFrame(topic: string, payload: Uint8Array, reality = ""): Uint8Array {
  const pulse: PbField[] = [[3, topic], [11, payload]];
  if (reality) pulse.push([5, reality]);
  return binaryFrame([[F.publish, [[1, 0], [2, 0], [3, pulse]]]]);
}

/**
 * A WebSocket client on raw TCP. It reads only when asked to, so a test can make it a
 * subscriber (or pinger) that never reads what the node sends.
 */
export class RawTcpWs {
  readonly conn: Deno.TcpConn;
  /** Bytes read past the 101 response. */
  rest: Uint8Array;

  private constructor(conn: Deno.TcpConn, rest: Uint8Array) {
    this.conn = conn;
    this.rest = rest;
  }

  /** Connects and completes the opening handshake. */
  static async open(port: number, protocol = "arqon.v1.proto"): Promise<RawTcpWs> {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    await writeAll(
      conn,
      enc.encode(
        "GET /v1/ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" +
          `Sec-WebSocket-Protocol: ${protocol}\r\n\r\n`,
      ),
    );
    const buf = new Uint8Array(4096);
    let got = new Uint8Array(0);
    while (true) {
      const n = await conn.read(buf);
      if (n === null) throw new Error("closed during handshake");
      const joined = new Uint8Array(got.length + n);
      joined.set(got);
      joined.set(buf.subarray(0, n), got.length);
      got = joined;
      const text = new TextDecoder().decode(got);
      const end = text.indexOf("\r\n\r\n");
      if (end < 0) continue;
      if (!text.startsWith("HTTP/1.1 101")) throw new Error(`upgrade refused: ${text}`);
      return new RawTcpWs(conn, got.slice(end + 4));
    }
  }

  /** Writes bytes; false once the node closed the connection. */
  async write(data: Uint8Array): Promise<boolean> {
    try {
      await writeAll(this.conn, data);
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Reads server frames until a close frame, the end of the connection or `ms`; returns
   * the close code (null if none was seen) and, with `keep`, every binary payload. Reads
   * in place, fast enough to drain megabytes a node left in the socket buffers.
   */
  async readUntilClose(
    ms: number,
    keep = false,
  ): Promise<{ code: number | null; binary: Uint8Array[] }> {
    const binary: Uint8Array[] = [];
    let buf = new Uint8Array(Math.max(1 << 20, this.rest.length * 2));
    buf.set(this.rest);
    let end = this.rest.length;
    const deadline = Date.now() + ms;
    while (Date.now() < deadline) {
      let pos = 0;
      while (pos + 2 <= end) {
        let len = buf[pos + 1] & 0x7f;
        let at = pos + 2;
        if (len === 126) {
          if (at + 2 > end) break;
          len = (buf[at] << 8) | buf[at + 1];
          at += 2;
        } else if (len === 127) {
          if (at + 8 > end) break;
          len = Number(new DataView(buf.buffer, at, 8).getBigUint64(0));
          at += 8;
        }
        if (at + len > end) {
          // A frame larger than the buffer: make room for it.
          if (at + len - pos > buf.length) {
            const bigger = new Uint8Array(at + len - pos);
            bigger.set(buf.subarray(pos, end));
            buf = bigger;
            end -= pos;
            pos = 0;
          }
          break;
        }
        const op = buf[pos] & 0x0f;
        if (op === 0x2 && keep) binary.push(buf.slice(at, at + len));
        if (op === 0x8) return { code: len >= 2 ? (buf[at] << 8) | buf[at + 1] : 1005, binary };
        pos = at + len;
      }
      buf.copyWithin(0, pos, end);
      end -= pos;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const n = await Promise.race([
        this.conn.read(buf.subarray(end)).catch(() => null),
        new Promise<number>((r) => timer = setTimeout(() => r(-1), deadline - Date.now())),
      ]);
      clearTimeout(timer);
      if (n === null) return { code: null, binary };
      if (n === -1) break;
      end += n;
    }
    return { code: null, binary };
  }

  /** Closes the TCP connection. */
  close(): void {
    try {
      this.conn.close();
    } catch { /* already closed */ }
  }
}

async function writeAll(conn: Deno.Conn, data: Uint8Array): Promise<void> {
  let off = 0;
  while (off < data.length) off += await conn.write(data.subarray(off));
}

/**
 * Writes `frame` over and over on `ws` for `ms` or until `maxBytes` are written (the node
 * reads on demand, so each write waits for TCP room); with `pauseMs`, one frame a write
 * and a pause after each. Returns how many bytes were written.
 */
export async function flood(
  ws: RawTcpWs,
  frame: Uint8Array,
  ms: number,
  maxBytes = 256 * 1024 * 1024,
  pauseMs = 0,
): Promise<number> {
  // Many frames per write: fewer syscalls, a realistic flood. Paced: one frame a write.
  const per = pauseMs > 0 ? 1 : Math.max(1, Math.floor(64 * 1024 / frame.length));
  const chunk = new Uint8Array(per * frame.length);
  for (let i = 0; i < per; i++) chunk.set(frame, i * frame.length);
  const deadline = Date.now() + ms;
  let sent = 0;
  while (Date.now() < deadline && sent < maxBytes) {
    if (!await ws.write(chunk)) break;
    sent += chunk.length;
    if (pauseMs > 0) await sleep(pauseMs);
  }
  return sent;
}

/** Resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Opens a raw subscriber to `pattern` that will never read. */
export async function silentSubscriber(
  port: number,
  pattern: string,
  extra: [number, number][] = [],
): Promise<RawTcpWs> {
  const ws = await RawTcpWs.open(port);
  await ws.write(binaryFrame([[F.subscribe, [[1, 1], [3, pattern], ...extra, [12, 1]]]]));
  return ws;
}

/** A ping and a publish round trip from a well-behaved client, each within `ms`. */
export async function stillServed(wsUrl: string, ms = 5000): Promise<void> {
  const deadline = sleep(ms).then(() => {
    throw new Error(`a third client was not served within ${ms} ms`);
  });
  const check = (async () => {
    const c = await RawSocket.open(`${wsUrl}`, "arqon.v1.proto");
    try {
      c.send(pb([[F.ping, [[1, 77]]]]));
      const [pong] = await c.wait(F.pong);
      assert.equal(num(pong, 1), 77, "pong echoes the nonce");
      c.send(pb([[F.publish, [[1, 5], [2, 1], [3, [[3, "calm.topic"], [11, "still here"]]]]]]));
      const [ack] = await c.wait(F.ack);
      assert.equal(num(ack, 1), 5, "publish acknowledged");
    } finally {
      await c.close();
    }
  })();
  await Promise.race([check, deadline]);
}
