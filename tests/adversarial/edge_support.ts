/**
 * Support of the edge's adversarial tests: a node run as a child process (so its RSS is
 * its own), reading that RSS, and raw TCP clients that write HTTP and WebSocket bytes by
 * hand (slowloris, clients that never read, never say hello).
 * @module
 */
import { F, frames, pb, type PbField, type PbMessage } from "../support/pb.ts";
import { spawnNode } from "../store_node_process.ts";
import { INSPECT_FLAG, rssAfterCollection } from "../support/child_inspector.ts";

/** A node child process on an ephemeral loopback port. */
export class NodeChild {
  /** HTTP base URL. */
  readonly url: string;
  /** WebSocket URL. */
  readonly wsUrl: string;
  /** Port of `url`. */
  readonly port: number;
  /** What the node printed on stdout up to "ready". */
  readonly banner: string;
  readonly #child: Deno.ChildProcess;
  readonly #drained: Promise<unknown>;
  readonly #inspectorUrl: string | undefined;

  private constructor(
    child: Deno.ChildProcess,
    url: string,
    wsUrl: string,
    banner: string,
    drained: Promise<unknown>,
    inspectorUrl: string | undefined,
  ) {
    this.#child = child;
    this.url = url;
    this.wsUrl = wsUrl;
    this.port = Number(new URL(url).port);
    this.banner = banner;
    this.#drained = drained;
    this.#inspectorUrl = inspectorUrl;
  }

  /**
   * Starts `mod.ts --port 0 --memory` with `args`; resolves once it listens. `inspect`: with
   * its V8 inspector open, for `rssAfterCollection`.
   */
  static async start(args: string[] = [], options: { inspect?: boolean } = {}): Promise<NodeChild> {
    const node = await spawnNode(["--memory", ...args], options.inspect ? [INSPECT_FLAG] : []);
    const url = options.inspect ? await node.inspectorUrl : undefined;
    if (options.inspect && !url) throw new Error("the node child printed no inspector URL");
    return new NodeChild(node.child, node.url, node.wsUrl, node.banner, node.rest, url);
  }

  /**
   * The node's RSS in bytes after a full garbage collection (see
   * tests/support/child_inspector.ts); only for a node started with `inspect`.
   */
  rssAfterCollection(): Promise<number> {
    if (!this.#inspectorUrl) throw new Error("the node child was started without inspect");
    return rssAfterCollection(this.#inspectorUrl, () => this.rss());
  }

  /** Process id (for /proc readings). */
  get pid(): number {
    return this.#child.pid;
  }

  /** The node's resident set size in bytes (`VmRSS` of /proc/<pid>/status). */
  rss(): number {
    return rssOf(this.#child.pid);
  }

  /** Stops the node (SIGTERM, then SIGKILL after 3 s) and waits for it. */
  async stop(): Promise<void> {
    try {
      this.#child.kill("SIGTERM");
    } catch { /* already gone */ }
    const timer = setTimeout(() => {
      try {
        this.#child.kill("SIGKILL");
      } catch { /* already gone */ }
    }, 3000);
    await this.#child.status;
    clearTimeout(timer);
    await this.#drained;
  }
}

/** The resident set size of process `pid` in bytes. */
export function rssOf(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const kb = Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? NaN);
  return kb * 1024;
}

/** Formats bytes as MB for messages. */
export function mb(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

/** Reads one metric sample from `/metrics` text (0 when absent). */
export function sample(text: string, name: string, labels = ""): number {
  for (const line of text.split("\n")) {
    if (line.startsWith("#")) continue;
    const [key, value] = line.split(" ");
    const bare = key.includes("{") ? key.slice(0, key.indexOf("{")) : key;
    if (bare === name && (!labels || key.includes(labels))) return Number(value);
  }
  return 0;
}

/** Reads one metric of a node at `url`. */
export async function metricAt(url: string, name: string, labels = ""): Promise<number> {
  return sample(await (await fetch(`${url}/metrics`)).text(), name, labels);
}

/** Resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Opens a TCP connection to a node's port. */
export function connect(port: number): Promise<Deno.TcpConn> {
  return Deno.connect({ hostname: "127.0.0.1", port });
}

/** Writes text or bytes, all of it. */
export async function write(conn: Deno.Conn, data: string | Uint8Array): Promise<void> {
  let bytes = typeof data === "string" ? enc.encode(data) : data;
  while (bytes.length) bytes = bytes.subarray(await conn.write(bytes));
}

/** A read left waiting when `readUntilClosed` timed out: the next call takes it over. */
const pendingReads = new WeakMap<Deno.Conn, Promise<Uint8Array | null>>();

function nextChunk(conn: Deno.Conn): Promise<Uint8Array | null> {
  let read = pendingReads.get(conn);
  if (!read) {
    const buf = new Uint8Array(64 * 1024);
    read = conn.read(buf).then((n) => n === null ? null : buf.slice(0, n), () => null);
    pendingReads.set(conn, read);
  }
  return read;
}

/**
 * Reads until the peer closes (or `timeoutMs`); returns the text read and whether the
 * peer closed within the time.
 */
export async function readUntilClosed(
  conn: Deno.Conn,
  timeoutMs: number,
  until?: (bytes: Uint8Array) => boolean,
): Promise<{ text: string; closed: boolean; bytes: Uint8Array }> {
  const chunks: Uint8Array[] = [];
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<"timeout">((r) => timer = setTimeout(() => r("timeout"), timeoutMs));
  let closed = false;
  try {
    while (true) {
      const chunk = await Promise.race([nextChunk(conn), expired]);
      if (chunk === "timeout") break;
      pendingReads.delete(conn);
      if (chunk === null) {
        closed = true;
        break;
      }
      chunks.push(chunk);
      // A caller waiting for one answer stops as soon as it is in: a loaded machine gets
      // the whole timeout, an idle one does not wait it out.
      if (until?.(concat(chunks))) break;
    }
  } finally {
    clearTimeout(timer);
  }
  const bytes = concat(chunks);
  return { text: dec.decode(bytes), closed, bytes };
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const bytes = new Uint8Array(chunks.reduce((a, c) => a + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    bytes.set(c, at);
    at += c.length;
  }
  return bytes;
}

/** The JSON body of a raw HTTP response text (after the blank line; chunked not handled). */
export function jsonBody(text: string): { error?: { code: string; message: string } } {
  return JSON.parse(text.slice(text.indexOf("\r\n\r\n") + 4));
}

/** The upgrade request of a raw WebSocket client speaking the proto subprotocol. */
export function upgradeRequest(port: number): string {
  return `GET /v1/ws HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\n` +
    "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
    "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: arqon.v1.proto\r\n\r\n";
}

/** A masked binary WebSocket frame (what a client sends) carrying `payload`. */
export function clientFrame(payload: Uint8Array, opcode = 0x2): Uint8Array {
  const len = payload.length;
  const head = len < 126 ? 2 : len < 65536 ? 4 : 10;
  const out = new Uint8Array(head + 4 + len);
  out[0] = 0x80 | opcode;
  if (len < 126) out[1] = 0x80 | len;
  else if (len < 65536) {
    out[1] = 0x80 | 126;
    out[2] = len >> 8;
    out[3] = len & 0xff;
  } else {
    out[1] = 0x80 | 127;
    new DataView(out.buffer).setBigUint64(2, BigInt(len));
  }
  const mask = crypto.getRandomValues(new Uint8Array(4));
  out.set(mask, head);
  for (let i = 0; i < len; i++) out[head + 4 + i] = payload[i] ^ mask[i & 3];
  return out;
}

/** A server WebSocket frame parsed off raw bytes. */
export interface ServerFrame {
  readonly opcode: number;
  readonly payload: Uint8Array;
}

/** Splits raw server bytes (after the 101 head) into frames; stops at a partial one. */
export function serverFrames(bytes: Uint8Array): ServerFrame[] {
  const out: ServerFrame[] = [];
  let at = 0;
  while (at + 2 <= bytes.length) {
    const opcode = bytes[at] & 0x0f;
    let len = bytes[at + 1] & 0x7f;
    let head = 2;
    if (len === 126) {
      len = (bytes[at + 2] << 8) | bytes[at + 3];
      head = 4;
    } else if (len === 127) {
      len = Number(new DataView(bytes.buffer, bytes.byteOffset + at + 2, 8).getBigUint64(0));
      head = 10;
    }
    if (at + head + len > bytes.length) break;
    out.push({ opcode, payload: bytes.subarray(at + head, at + head + len) });
    at += head + len;
  }
  return out;
}

/** The bytes after the HTTP head of a raw response. */
export function afterHead(bytes: Uint8Array): Uint8Array {
  for (let i = 3; i < bytes.length; i++) {
    if (bytes[i - 3] === 13 && bytes[i - 2] === 10 && bytes[i - 1] === 13 && bytes[i] === 10) {
      return bytes.subarray(i + 1);
    }
  }
  return new Uint8Array(0);
}

/** The close code of a close frame. */
export function closeCodeOf(frame: ServerFrame): number {
  return frame.payload.length >= 2 ? (frame.payload[0] << 8) | frame.payload[1] : 1005;
}

/** Protocol frames decoded from the binary messages among `serverFrames`. */
export function protoFrames(list: ServerFrame[]): [number, PbMessage][] {
  return list.filter((f) => f.opcode === 0x2).flatMap((f) => frames(f.payload));
}

/** A hello frame. */
export function hello(name: string): Uint8Array {
  return pb([[F.hello, [[1, name], [2, 1]]]]);
}

/** A request frame to `topic` of `reality` (empty: default). */
export function request(correlationId: number, topic: string, reality = ""): Uint8Array {
  const pulse: PbField[] = [[3, topic]];
  if (reality) pulse.push([5, reality]);
  return pb([[F.request, [[1, correlationId], [2, pulse], [3, 60_000]]]]);
}

/** A subscribe frame. */
export function subscribe(id: number, pattern: string, reality = ""): Uint8Array {
  const fields: PbField[] = [[1, id]];
  if (reality) fields.push([2, reality]);
  fields.push([3, pattern]);
  return pb([[F.subscribe, fields]]);
}

/** A publish frame with ack 1 (on receipt). */
export function publish(correlationId: number, topic: string, reality = ""): Uint8Array {
  const pulse: PbField[] = [[3, topic], [11, enc.encode("x")]];
  if (reality) pulse.push([5, reality]);
  return pb([[F.publish, [[1, correlationId], [2, 1], [3, pulse]]]]);
}

/** The error code and message of an error frame. */
export function errorOf(m: PbMessage): { code: number; message: string; correlationId: number } {
  return {
    code: (m.get(1)?.[0] as number) ?? 0,
    message: dec.decode((m.get(2)?.[0] as Uint8Array) ?? new Uint8Array()),
    correlationId: (m.get(3)?.[0] as number) ?? 0,
  };
}

/** Appends `n` as a protobuf varint. */
function pushVarint(out: number[], n: number): void {
  while (n >= 0x80) {
    out.push((n % 128) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
}

/**
 * One batch frame of `count` request frames to `topic`, correlation ids `first`, ...;
 * encoded by hand because floods build a lot of them.
 */
export function requestBatch(first: number, count: number, topic: string): Uint8Array {
  const pulse = pb([[3, topic]]);
  const frames: number[] = [];
  for (let id = first; id < first + count; id++) {
    const body: number[] = [0x08];
    pushVarint(body, id);
    body.push(0x12);
    pushVarint(body, pulse.length);
    for (const b of pulse) body.push(b);
    body.push(0x18);
    pushVarint(body, 60_000);
    const frame: number[] = [(F.request << 3) | 2];
    pushVarint(frame, body.length);
    frame.push(...body);
    frames.push(0x0a);
    pushVarint(frames, frame.length);
    for (const b of frame) frames.push(b);
  }
  const out: number[] = [(F.batch << 3) | 2];
  pushVarint(out, frames.length);
  for (const b of frames) out.push(b);
  return new Uint8Array(out);
}

/** A raw WebSocket client connection that reads and throws away whatever the node sends. */
export class DiscardingSocket {
  readonly conn: Deno.TcpConn;
  /** Resolves when the node closed the connection. */
  readonly ended: Promise<void>;
  /** Bytes received so far. */
  received = 0;

  private constructor(conn: Deno.TcpConn) {
    this.conn = conn;
    this.ended = (async () => {
      const buf = new Uint8Array(64 * 1024);
      try {
        while (true) {
          const n = await conn.read(buf);
          if (n === null) return;
          this.received += n;
        }
      } catch { /* closed */ }
    })();
  }

  /** Upgrades a new connection to `/v1/ws` (proto) and says hello. */
  static async open(port: number, name: string): Promise<DiscardingSocket> {
    const conn = await connect(port);
    await write(conn, upgradeRequest(port));
    const s = new DiscardingSocket(conn);
    await s.send(hello(name));
    return s;
  }

  /** Sends one binary message. */
  send(payload: Uint8Array): Promise<void> {
    return write(this.conn, clientFrame(payload));
  }

  /** Closes the connection (no closing handshake: the client just leaves). */
  async close(): Promise<void> {
    try {
      this.conn.close();
    } catch { /* already closed */ }
    await this.ended;
  }
}
