/**
 * The node's public listener. WebSocket upgrades to `/v1/ws` are served here on raw TCP
 * connections the node reads on demand (`WsServerConnection`), so a flooding client
 * waits in TCP backpressure instead of holding the event loop; every other connection
 * (the HTTP API, SSE) is piped unchanged to the node's `Deno.serve` listener on loopback.
 *
 * The HTTP listener sees piped connections coming from loopback; `peerAddrOf` maps the
 * loopback port it sees back to the real client, as the TLS terminator does.
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
import type { PeerAddress, PeerResolver } from "./tls/mod.ts";

/** How an upgrade request is answered: the chosen subprotocol, or an error response. */
export type UpgradeVerdict = { readonly protocol: string } | Response;

/** Where the front door listens, and what it does with each connection. */
export interface FrontDoorOptions extends WsServerOptions {
  readonly hostname: string;
  /** 0 picks an ephemeral port. */
  readonly port: number;
  /** The path WebSocket clients upgrade on. */
  readonly wsPath: string;
  /** The HTTP listener other connections are piped to (loopback). */
  readonly upstream: { readonly hostname: string; readonly port: number };
  /** Decides an upgrade request: subprotocol, draining, ... */
  upgrade(headers: Headers): UpgradeVerdict;
  /** Attaches a session to an upgraded connection. */
  attach(connection: WsServerConnection, protocol: string, client: PeerAddress): TransportSession;
  /** Resolves connections that reach the front door piped from elsewhere (TLS). */
  readonly peers?: PeerResolver | null;
  /** Reports a failed accept (e.g. out of file descriptors); the listener carries on. */
  readonly onAcceptError?: (error: unknown) => void;
  /** Milliseconds a client may take to send its request head; default 10 000. */
  readonly headTimeoutMs?: number;
}

/** A running front door. */
export interface FrontDoor extends PeerResolver {
  readonly hostname: string;
  readonly port: number;
  /** Stops accepting and closes piped connections. */
  close(): void;
}

/** Opens the public listener. */
export function startFrontDoor(options: FrontDoorOptions): FrontDoor {
  const listener = Deno.listen({ hostname: options.hostname, port: options.port });
  const addr = listener.addr as Deno.NetAddr;
  const peers = new Map<number, PeerAddress>();
  const piped = new Set<Deno.Conn>();
  const resolve = (remote: Deno.NetAddr): PeerAddress =>
    options.peers?.peerAddrOf(remote.port, remote.hostname) ??
      { hostname: remote.hostname, port: remote.port };
  let closed = false;
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
      serve(conn, options, resolve(conn.remoteAddr as Deno.NetAddr), peers, piped).catch(() => {
        try {
          conn.close();
        } catch { /* already closed */ }
      });
    }
  })();
  return {
    hostname: addr.hostname,
    port: addr.port,
    peerAddrOf: (port) => peers.get(port),
    close: () => {
      closed = true;
      try {
        listener.close();
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
  peers: Map<number, PeerAddress>,
  piped: Set<Deno.Conn>,
): Promise<void> {
  (conn as Deno.TcpConn).setNoDelay?.(true);
  const timer = setTimeout(() => conn.close(), options.headTimeoutMs ?? 10_000);
  let head: string, raw: Uint8Array, rest: Uint8Array;
  try {
    [head, rest, raw] = await readHttpHead(conn);
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
  if (method === "GET" && path === options.wsPath && wantsWs) {
    return await upgrade(conn, headers, rest, options, client);
  }
  await pipe(conn, raw, rest, options.upstream, client, peers, piped);
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
  raw: Uint8Array,
  rest: Uint8Array,
  upstream: { hostname: string; port: number },
  client: PeerAddress,
  peers: Map<number, PeerAddress>,
  piped: Set<Deno.Conn>,
): Promise<void> {
  const inner = await Deno.connect({ hostname: upstream.hostname, port: upstream.port });
  const localPort = (inner.localAddr as Deno.NetAddr).port;
  peers.set(localPort, client);
  piped.add(conn);
  piped.add(inner);
  try {
    await writeAll(inner, raw);
    if (rest.length) await writeAll(inner, rest);
    await Promise.all([pump(conn, inner), pump(inner, conn)]);
  } finally {
    peers.delete(localPort);
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
