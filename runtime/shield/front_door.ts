/**
 * The node's public listener. WebSocket upgrades to `/v1/ws` are served here on raw TCP
 * connections the node reads on demand (`WsServerConnection`), so a flooding client
 * waits in TCP backpressure instead of holding the event loop; every other connection
 * (the HTTP API, SSE) is piped to the node's `Deno.serve` listener (`http_pipe.ts`).
 *
 * That listener is a Unix socket in a directory only the node's user can enter, not a
 * loopback TCP port: a TCP port behind the front door (or behind TLS) would take requests,
 * bearer tokens included, from any local program, in clear text and past the front
 * door's checks. The front door tells it the real client in a header on every request
 * (`PEER_HEADER`, which it removes from what clients send; see `request_relay.ts`).
 *
 * With TLS the front door opens no listener of its own: the terminator hands it each
 * decrypted connection (`accept`). Either way each connection takes a slot of the
 * connection cap (`gate`) until it ends, and its first head is read here (408 when too
 * slow, 431 when over 16 KiB).
 * @module
 */
import {
  acceptKey,
  type TransportSession,
  writeAll,
  WsServerConnection,
  type WsServerOptions,
} from "../transport/mod.ts";
import type { ConnectionGate, ConnectionRefusal } from "./connection_limit.ts";
import { DeadlineSweeper, type DeadlineWatch, type HttpDeadlineOptions } from "./http_deadlines.ts";
import { readRequestHead, type RequestHead } from "./http_framing.ts";
import { pipeHttp } from "./http_pipe.ts";
import { ANSWER_WRITE_MS, answerAndClose, problemResponse, writeResponse } from "./raw_answer.ts";
import { PEER_HEADER } from "./request_relay.ts";
import { formatAddress, hostOf, type PeerAddress } from "./tls/mod.ts";

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
  /** The connection cap; absent: connections are not counted. */
  readonly gate?: ConnectionGate;
  /** Descriptors a connection holds outside the front door (none: the TLS hand-off is in process). */
  readonly extraDescriptors?: number;
  /** Deadlines of piped HTTP requests (head, body, keep-alive idle); absent: none. */
  readonly httpDeadlines?: HttpDeadlineOptions;
  /** Told each time a limit turns a client away or cuts it (the metric's `limit` label). */
  readonly onLimit?: (limit: string) => void;
}

/** A running front door. */
export interface FrontDoor {
  readonly hostname: string;
  /** Its port (0 when it has no listener of its own). */
  readonly port: number;
  /** Serves a connection accepted elsewhere (decrypted by the TLS terminator). */
  accept(conn: Deno.Conn, client: PeerAddress): void;
  /**
   * Told by the HTTP server that it answers a request of the piped connection whose client
   * is `peer` (the value of `PEER_HEADER`), until `completed`: such a connection is not idle.
   */
  responding(peer: string, completed: Promise<void>): void;
  /** Stops accepting and closes piped connections. */
  close(): void;
}

/** Connections being turned away at once, at most; beyond, they are closed unanswered. */
const MAX_REFUSING = 64;
/** Time a turned-away client gets to send its request head before it is answered anyway. */
const REFUSAL_HEAD_MS = 2000;

/** State shared by the connections of one front door. */
interface DoorState {
  readonly piped: Set<Deno.Conn>;
  /** Deadline watches of piped connections, by their client as `PEER_HEADER` names it. */
  readonly watches: Map<string, DeadlineWatch>;
  readonly sweeper: DeadlineSweeper | null;
  readonly onLimit?: (limit: string) => void;
  refusing: number;
}

/** Opens the public listener (unless `port` is null). */
export function startFrontDoor(options: FrontDoorOptions): FrontDoor {
  const listener = options.port === null
    ? null
    : Deno.listen({ hostname: options.hostname, port: options.port });
  const addr = listener?.addr as Deno.NetAddr | undefined;
  const state: DoorState = {
    piped: new Set(),
    watches: new Map(),
    sweeper: options.httpDeadlines ? new DeadlineSweeper(options.httpDeadlines) : null,
    onLimit: options.onLimit,
    refusing: 0,
  };
  const { piped } = state;
  const cost = 1 + (options.extraDescriptors ?? 0);
  let closed = false;
  const accept = (conn: Deno.Conn, client: PeerAddress) => {
    const refusal = options.gate?.enter(cost);
    if (refusal) {
      refuse(conn, refusal, options, state);
      return;
    }
    // Held until the connection ends: a WebSocket's session, a piped HTTP connection's pipe.
    let held = options.gate ? cost : 0;
    const release = () => {
      if (held) options.gate!.leave(held);
      held = 0;
    };
    const grow = (more: number) => {
      if (!options.gate) return true;
      if (!held || !options.gate.grow(more)) return false;
      held += more;
      return true;
    };
    serve(conn, options, client, state, { release, grow })
      .then((upgraded) => {
        if (!upgraded) release();
      }, () => {
        release();
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
    responding: (peer, completed) => {
      const watch = state.watches.get(peer);
      if (!watch) return;
      watch.responding++;
      const done = () => {
        watch.responding--;
        watch.answered++;
        watch.touch();
      };
      completed.then(done, done);
    },
    close: () => {
      closed = true;
      state.sweeper?.close();
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

/** How a connection's hold on the connection cap is given back or extended. */
interface Slot {
  release(): void;
  grow(descriptors: number): boolean;
}

/** Serves one connection; resolves true when it became a WebSocket (which holds its slot). */
async function serve(
  conn: Deno.Conn,
  options: FrontDoorOptions,
  client: PeerAddress,
  state: DoorState,
  slot: Slot,
): Promise<boolean> {
  (conn as Deno.TcpConn).setNoDelay?.(true);
  const headMs = options.headTimeoutMs ?? 10_000;
  // A client that never finishes its first head (slowloris) gets a 408 and is closed. The
  // head's read goes on meanwhile and the close waits for it (a lingering close): bytes the
  // client sent that no read took yet would turn the close into a reset, which can destroy
  // the 408 before the client reads it (seen on a loaded machine).
  let timedOut = false;
  let headRead: Promise<Awaited<ReturnType<typeof readRequestHead>>> | undefined;
  const timer = setTimeout(() => {
    timedOut = true;
    options.onLimit?.("http_header_timeout");
    const answer = problemResponse(408, "TIMEOUT", `no request head within ${headMs} ms`);
    answerAndClose(conn, answer, headRead ?? false);
  }, headMs);
  let read;
  try {
    headRead = readRequestHead(conn);
    read = await headRead;
  } catch (err) {
    if (timedOut) return false;
    throw err;
  } finally {
    clearTimeout(timer);
  }
  if (timedOut || read === null) {
    if (!timedOut) conn.close();
    return false;
  }
  if (!("head" in read)) {
    options.onLimit?.("http_head_too_large");
    await answerAndClose(conn, problemResponse(read.status, read.code, read.message), true);
    return false;
  }
  const { head, rest } = read;
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
    return await upgrade(conn, headers, rest, options, client, slot);
  }
  // A piped connection holds both ends of a private socket besides its own descriptor.
  if (!slot.grow(2)) {
    options.onLimit?.("open_files");
    await answerAndClose(conn, tooManyConnections("open_files", options), true);
    return false;
  }
  // Only the deno engine's WebSocket upgrade may switch the piped connection's protocol.
  await pipe(
    conn,
    read,
    options,
    client,
    state,
    method === "GET" && path === options.wsPath && wantsWs,
  );
  return false;
}

/** The answer of a connection over the cap: 503 JSON, to be retried later. */
function tooManyConnections(reason: ConnectionRefusal, options: FrontDoorOptions): Response {
  const message = reason === "max_connections"
    ? `the node holds its maximum of ${options.gate?.maxConnections} connections; try again later`
    : "the node is out of file descriptors for connections; try again later";
  const res = problemResponse(503, "QUOTA_EXCEEDED", message);
  res.headers.set("retry-after", "1");
  return res;
}

/**
 * Turns away a connection over the cap with an answer its client understands: a
 * WebSocket upgrade is accepted and closed at once with 1013 (try again later), anything
 * else gets a 503. Only a few are answered at a time; the rest are closed unanswered.
 */
async function refuse(
  conn: Deno.Conn,
  reason: ConnectionRefusal,
  options: FrontDoorOptions,
  state: DoorState,
): Promise<void> {
  options.onLimit?.(reason);
  if (state.refusing >= MAX_REFUSING) {
    try {
      conn.close();
    } catch { /* already closed */ }
    return;
  }
  state.refusing++;
  const timer = setTimeout(() => {
    try {
      conn.close();
    } catch { /* already closed */ }
  }, REFUSAL_HEAD_MS + ANSWER_WRITE_MS);
  try {
    let wait: ReturnType<typeof setTimeout> | undefined;
    const read = await Promise.race([
      readRequestHead(conn).catch(() => null),
      new Promise<null>((r) => wait = setTimeout(() => r(null), REFUSAL_HEAD_MS)),
    ]);
    clearTimeout(wait);
    const head = read && "head" in read ? read.head : "";
    const key = /\r\nsec-websocket-key:\s*(\S+)/i.exec(head);
    if (key && /\r\nupgrade:\s*websocket/i.test(head)) {
      const accept = await acceptKey(key[1]);
      const reasonText = new TextEncoder().encode("try again later: node at its connection limit");
      const close = new Uint8Array(4 + reasonText.length);
      close.set([0x88, 2 + reasonText.length, 1013 >> 8, 1013 & 0xff]);
      close.set(reasonText, 4);
      await writeAll(
        conn,
        new TextEncoder().encode(
          "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
            `Sec-WebSocket-Accept: ${accept}\r\n\r\n`,
        ),
      );
      await writeAll(conn, close);
      try {
        conn.close();
      } catch { /* already closed */ }
    } else await answerAndClose(conn, tooManyConnections(reason, options), read !== null);
  } catch {
    /* the client is gone */
  } finally {
    clearTimeout(timer);
    state.refusing--;
    try {
      conn.close();
    } catch { /* already closed */ }
  }
}

async function upgrade(
  conn: Deno.Conn,
  headers: Headers,
  rest: Uint8Array,
  options: FrontDoorOptions,
  client: PeerAddress,
  slot: Slot,
): Promise<boolean> {
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
    return false;
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
  const session = options.attach(connection, verdict.protocol, client);
  // The connection holds its slot of the cap until it ends.
  connection.start({
    receive: (frame) => session.receive(frame),
    closed: () => {
      slot.release();
      session.closed();
    },
  }, rest);
  return true;
}

/**
 * Pipes a connection, starting with the bytes already read, to the HTTP listener (see
 * `http_pipe.ts`); each request head carries `client` in `PEER_HEADER`.
 */
async function pipe(
  conn: Deno.Conn,
  first: RequestHead,
  options: FrontDoorOptions,
  client: PeerAddress,
  state: DoorState,
  upgrade: boolean,
): Promise<void> {
  const { piped, watches } = state;
  let inner: Deno.Conn;
  try {
    inner = await Deno.connect({ transport: "unix", path: options.upstream.path });
  } catch {
    // Out of descriptors between the check and the connect: still an answer, not a reset.
    options.onLimit?.("open_files");
    return await answerAndClose(conn, tooManyConnections("open_files", options), true);
  }
  const peer = formatAddress(client);
  let mine: DeadlineWatch | undefined;
  piped.add(conn);
  piped.add(inner);
  try {
    await pipeHttp(conn, inner, first, client, state, (watch) => {
      if (mine && watches.get(peer) === mine) watches.delete(peer);
      mine = watch;
      if (watch) watches.set(peer, watch);
    }, upgrade);
  } finally {
    if (mine && watches.get(peer) === mine) watches.delete(peer);
    piped.delete(conn);
    piped.delete(inner);
  }
}
