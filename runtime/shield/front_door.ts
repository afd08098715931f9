/**
 * The node's public listener. WebSocket upgrades to `/v1/ws` are served here on raw TCP
 * connections the node reads on demand (`WsServerConnection`), so a flooding client
 * waits in TCP backpressure instead of holding the event loop; every other connection
 * (the HTTP API, SSE) is piped to the node's `Deno.serve` listener.
 *
 * That listener is a Unix socket in a directory only the node's user can enter, not a
 * loopback TCP port: a TCP port behind the front door (or behind TLS) would take requests,
 * bearer tokens included, from any local program, in clear text and past the front
 * door's checks. The front door tells it the real client in a header on every request
 * (`PEER_HEADER`, which it removes from what clients send; see `request_relay.ts`).
 *
 * With TLS the front door opens no listener of its own: the terminator hands it each
 * decrypted connection (`accept`).
 * @module
 */
import {
  acceptKey,
  readHttpHead,
  type TransportSession,
  writeAll,
  WsServerConnection,
  type WsServerOptions,
} from "../transport/mod.ts";
import { hostOf, type PeerAddress } from "./tls/mod.ts";
import { PEER_HEADER, relayRequests } from "./request_relay.ts";

export { PEER_HEADER };

/** The client named by `PEER_HEADER`, if the request carries it. */
export function peerFromHeaders(headers: Headers): Deno.NetAddr | undefined {
  const value = headers.get(PEER_HEADER);
  if (!value) return undefined;
  const host = hostOf(value);
  return {
    transport: "tcp",
    hostname: host,
    port: Number(value.slice(value.lastIndexOf(":") + 1)),
  };
}

/** How an upgrade request is answered: the chosen subprotocol, or an error response. */
export type UpgradeVerdict = { readonly protocol: string } | Response;

/** Where the front door listens, and what it does with each connection. */
export interface FrontDoorOptions extends WsServerOptions {
  readonly hostname: string;
  /** 0 picks an ephemeral port; null opens no listener (connections come to `accept`). */
  readonly port: number | null;
  /** The path WebSocket clients upgrade on. */
  readonly wsPath: string;
  /** The HTTP listener other connections are piped to: a Unix socket. */
  readonly upstream: { readonly path: string };
  /**
   * Serve WebSocket upgrades here (the arqon engine); false pipes them to the HTTP
   * listener like any request (the deno engine).
   * @default {true}
   */
  readonly serveWebSocket?: boolean;
  /** Decides an upgrade request: subprotocol, draining, ... */
  upgrade(headers: Headers): UpgradeVerdict;
  /** Attaches a session to an upgraded connection. */
  attach(connection: WsServerConnection, protocol: string, client: PeerAddress): TransportSession;
  /** Reports a failed accept (e.g. out of file descriptors); the listener carries on. */
  readonly onAcceptError?: (error: unknown) => void;
  /** Milliseconds a client may take to send its request head; default 10 000. */
  readonly headTimeoutMs?: number;
}

/** A running front door. */
export interface FrontDoor {
  readonly hostname: string;
  /** Its port (0 when it has no listener of its own). */
  readonly port: number;
  /** Serves a connection accepted elsewhere (decrypted by the TLS terminator). */
  accept(conn: Deno.Conn, client: PeerAddress): void;
  /** Stops accepting and closes piped connections. */
  close(): void;
}

/** Opens the public listener (unless `port` is null). */
export function startFrontDoor(options: FrontDoorOptions): FrontDoor {
  const listener = options.port === null
    ? null
    : Deno.listen({ hostname: options.hostname, port: options.port });
  const addr = listener?.addr as Deno.NetAddr | undefined;
  const piped = new Set<Deno.Conn>();
  let closed = false;
  const accept = (conn: Deno.Conn, client: PeerAddress) => {
    serve(conn, options, client, piped).catch(() => {
      try {
        conn.close();
      } catch { /* already closed */ }
    });
  };
  if (listener) {
    (async () => {
      while (!closed) {
        let conn: Deno.Conn;
        try {
          conn = await listener.accept();
        } catch (err) {
          if (closed || err instanceof Deno.errors.BadResource) return;
          // Out of file descriptors (EMFILE) and the like: keep the listener, try again soon.
          options.onAcceptError?.(err);
          await new Promise((r) => setTimeout(r, 50));
          continue;
        }
        const remote = conn.remoteAddr as Deno.NetAddr;
        accept(conn, { hostname: remote.hostname, port: remote.port });
      }
    })();
  }
  return {
    hostname: addr?.hostname ?? options.hostname,
    port: addr?.port ?? 0,
    accept,
    close: () => {
      closed = true;
      try {
        listener?.close();
      } catch { /* already closed */ }
      for (const c of piped) {
        try {
          c.close();
        } catch { /* already closed */ }
      }
    },
  };
}

async function serve(
  conn: Deno.Conn,
  options: FrontDoorOptions,
  client: PeerAddress,
  piped: Set<Deno.Conn>,
): Promise<void> {
  (conn as Deno.TcpConn).setNoDelay?.(true);
  const timer = setTimeout(() => conn.close(), options.headTimeoutMs ?? 10_000);
  let head: string, rest: Uint8Array;
  try {
    [head, rest] = await readHttpHead(conn);
  } finally {
    clearTimeout(timer);
  }
  const lines = head.split("\r\n");
  const [method, target] = lines[0].split(" ");
  const path = (target ?? "").split("?")[0];
  const headers = new Headers();
  for (const line of lines.slice(1)) {
    const i = line.indexOf(":");
    if (i > 0) headers.append(line.slice(0, i).trim(), line.slice(i + 1).trim());
  }
  const wantsWs = (headers.get("upgrade") ?? "").toLowerCase() === "websocket";
  if (method === "GET" && path === options.wsPath && wantsWs && options.serveWebSocket !== false) {
    return await upgrade(conn, headers, rest, options, client);
  }
  await pipe(conn, lines, rest, options.upstream, client, piped);
}

async function upgrade(
  conn: Deno.Conn,
  headers: Headers,
  rest: Uint8Array,
  options: FrontDoorOptions,
  client: PeerAddress,
): Promise<void> {
  const key = headers.get("sec-websocket-key") ?? "";
  let verdict: UpgradeVerdict;
  if (headers.get("sec-websocket-version") !== "13") {
    verdict = Response.json({
      error: { code: "PROTOCOL_VIOLATION", message: "WebSocket version 13 is required" },
    }, { status: 426, headers: { "sec-websocket-version": "13" } });
  } else if (!/^[A-Za-z0-9+/]{22}==$/.test(key)) {
    verdict = Response.json({
      error: { code: "PROTOCOL_VIOLATION", message: "missing or malformed Sec-WebSocket-Key" },
    }, { status: 400 });
  } else verdict = options.upgrade(headers);
  if (verdict instanceof Response) {
    await writeResponse(conn, verdict);
    conn.close();
    return;
  }
  const accept = await acceptKey(key);
  await writeAll(
    conn,
    new TextEncoder().encode(
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
        `Sec-WebSocket-Accept: ${accept}\r\nSec-WebSocket-Protocol: ${verdict.protocol}\r\n\r\n`,
    ),
  );
  const remote = client.hostname.includes(":")
    ? `[${client.hostname}]:${client.port}`
    : `${client.hostname}:${client.port}`;
  const connection = new WsServerConnection(conn, remote, options);
  connection.start(options.attach(connection, verdict.protocol, client), rest);
}

/** Writes a `Response` on a raw connection (HTTP/1.1, closed after). */
async function writeResponse(conn: Deno.Conn, res: Response): Promise<void> {
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

/** Pipes a connection, starting with the bytes already read, to the HTTP listener. */
async function pipe(
  conn: Deno.Conn,
  lines: string[],
  rest: Uint8Array,
  upstream: { path: string },
  client: PeerAddress,
  piped: Set<Deno.Conn>,
): Promise<void> {
  const inner = await Deno.connect({ transport: "unix", path: upstream.path });
  piped.add(conn);
  piped.add(inner);
  try {
    // Requests go one by one (each head gets the client's address); answers flow back as is.
    const relay = relayRequests(conn, inner, lines, rest, client).catch(() => {
      for (const c of [conn, inner]) {
        try {
          c.close();
        } catch { /* already closed */ }
      }
    });
    await Promise.all([relay, pump(inner, conn)]);
  } finally {
    piped.delete(conn);
    piped.delete(inner);
    for (const c of [conn, inner]) {
      try {
        c.close();
      } catch { /* already closed */ }
    }
  }
}

/** Copies `from` to `to` until `from` ends, then half-closes `to`. */
async function pump(from: Deno.Conn, to: Deno.Conn): Promise<void> {
  const buf = new Uint8Array(64 * 1024);
  try {
    while (true) {
      const n = await from.read(buf);
      if (n === null) break;
      await writeAll(to, buf.subarray(0, n));
    }
    await (to as Deno.TcpConn).closeWrite();
  } catch {
    // One side failed: end both.
    for (const c of [from, to]) {
      try {
        c.close();
      } catch { /* already closed */ }
    }
  }
}
