/**
 * The node's listeners: which ones run and how they chain. The HTTP API always runs on
 * `Deno.serve`; with the arqon WebSocket engine the public port is the front door, which
 * serves WebSockets itself and pipes HTTP to `Deno.serve` on a private Unix socket; with
 * TLS the TLS 1.3-only terminator owns the port and hands each decrypted connection to
 * the front door in process. No other port is opened.
 * @module
 */
import type { Hono } from "hono";
import {
  acceptWebSocket,
  type ConnectionGate,
  formatOf,
  type FrontDoor,
  type HttpDeadlineOptions,
  negotiateUpgrade,
  PEER_HEADER,
  peerFromHeaders,
  startFrontDoor,
  WS_PATH,
  type WsEndpointContext,
} from "../shield/mod.ts";
import {
  clientAddress,
  formatAddress,
  startTlsTerminator,
  type TlsTerminator,
} from "../shield/tls/mod.ts";

/** What the listeners need from the node. */
export interface ListenersOptions {
  /** Public address and port (0: ephemeral). */
  readonly host: string;
  readonly port: number;
  /** `arqon`: the front door serves WebSockets; `deno`: Deno's built-in upgrade. */
  readonly wsEngine: "arqon" | "deno";
  /** Files of the PEM certificate chain and key; set: the public port speaks TLS 1.3 only. */
  readonly tls: { readonly certFile: string; readonly keyFile: string } | null;
  /** Largest accepted WebSocket frame (the front door's hard cap derives from it). */
  readonly maxFrameBytes: number;
  /** Bytes a WebSocket connection may hold for a peer that does not read; over it: close 1008. */
  readonly maxBufferedBytes: number;
  /** Counts a connection closed for going over `maxBufferedBytes`. */
  readonly onBufferedOverflow: () => void;
  /** `quiet` silences repeated accept errors. */
  readonly log: "info" | "quiet";
  /** The HTTP API. */
  readonly app: Hono;
  /** The WebSocket endpoint: metrics, idle timeout, draining, attach. */
  readonly ws: WsEndpointContext;
  /** Gives the loop over between reads (see `shield/limits/io_turn.ts`). */
  readonly yieldTurn: () => Promise<void>;
  /** Counts an accept that failed (e.g. out of descriptors). */
  readonly onAcceptError: () => void;
  /** Counts a failed TLS handshake. */
  readonly onHandshakeError: () => void;
  /** The connection cap (the front door enforces it); absent: none. */
  readonly gate?: ConnectionGate;
  /** Deadlines of HTTP request heads, bodies and idle keep-alive connections. */
  readonly httpDeadlines?: HttpDeadlineOptions;
  /** Counts a client turned away or cut by a limit. */
  readonly onLimit?: (limit: string) => void;
}

/** The running listeners. */
export interface Listeners {
  /** The public port (resolved when `port` was 0). */
  readonly port: number;
  /** Base HTTP URL, e.g. `http://127.0.0.1:7420`. */
  readonly url: string;
  /** WebSocket endpoint, e.g. `ws://127.0.0.1:7420/v1/ws`. */
  readonly wsUrl: string;
  /** Resolves when the HTTP server has stopped. */
  readonly finished: Promise<void>;
  /** Closes the TLS terminator and the front door (the HTTP server stays: see `shutdownHttp`). */
  closeFront(): Promise<void>;
  /** Stops the HTTP server. */
  shutdownHttp(): Promise<void>;
}

function internalError(): Response {
  return Response.json({ error: { code: "INTERNAL", message: "internal error" } }, {
    status: 500,
  });
}

/**
 * Starts the HTTP server, then the front door and the TLS terminator as configured. Only
 * the configured port listens on TCP: behind the front door (and TLS) the HTTP server
 * listens on a Unix socket in a private directory (mode 0700), and the terminator hands
 * decrypted connections to the front door in process.
 */
export async function startListeners(options: ListenersOptions): Promise<Listeners> {
  const { app, ws } = options;
  const tlsOn = options.tls !== null;
  const failed = (err: unknown, client: Deno.NetAddr): Response => {
    console.error(`arqon: request from ${formatAddress(client)} failed:`, err);
    return internalError();
  };

  const fronted = options.wsEngine === "arqon" || tlsOn;
  // The HTTP server's private socket: only this user may connect, so the peer header the
  // front door sets is trusted there (and only there).
  const socketDir = fronted ? await Deno.makeTempDir({ prefix: "arqon-http-" }) : null;
  if (socketDir) await Deno.chmod(socketDir, 0o700);
  const socketPath = socketDir ? `${socketDir}/http.sock` : null;
  const listening = Promise.withResolvers<void>();
  let door: FrontDoor | null = null;
  const handler = (req: Request, info: Deno.ServeHandlerInfo<Deno.Addr>) => {
    // Piped connections with a response in progress are not idle (see the front door).
    const peer = socketPath ? req.headers.get(PEER_HEADER) : null;
    if (peer) door?.responding(peer, info.completed);
    const client = socketPath
      ? peerFromHeaders(req.headers) ?? UNKNOWN_CLIENT
      : clientAddress(info.remoteAddr);
    try {
      // `http://host/…`, or `http+unix://host/…` on the private socket.
      const path = req.url.slice(req.url.indexOf("/", req.url.indexOf("://") + 3)).split("?")[0];
      if (path === WS_PATH && req.method === "GET") return acceptWebSocket(ws, req, client);
      const res = app.fetch(req, { remoteAddr: client, completed: info.completed });
      return res instanceof Promise ? res.catch((err) => failed(err, client)) : res;
    } catch (err) {
      return failed(err, client);
    }
  };
  const onError = (err: unknown) => {
    console.error("arqon: request failed:", err);
    return internalError();
  };
  let plainAddr: { hostname: string; port: number } | null = null;
  const server = socketPath
    ? Deno.serve({ path: socketPath, onListen: () => listening.resolve(), onError }, handler)
    : Deno.serve({
      hostname: options.host,
      port: options.port,
      onListen: (addr) => {
        plainAddr = addr as Deno.NetAddr;
        listening.resolve();
      },
      onError,
    }, handler);
  await listening.promise;
  let acceptErrorLoggedAt = 0;
  let tls: TlsTerminator | null = null;
  const removeSocketDir = async () => {
    if (socketDir) await Deno.remove(socketDir, { recursive: true }).catch(() => {});
  };
  if (socketPath) {
    try {
      door = startFrontDoor({
        hostname: options.host,
        // With TLS the terminator owns the port and hands connections over.
        port: tlsOn ? null : options.port,
        wsPath: WS_PATH,
        upstream: { path: socketPath },
        serveWebSocket: options.wsEngine === "arqon",
        // Above --max-frame-bytes the session answers FRAME_TOO_LARGE; far above, the
        // connection closes (1009) rather than buffer it.
        maxMessageBytes: Math.max(4 * options.maxFrameBytes, 16 * 1024 * 1024),
        idleTimeoutSeconds: ws.idleTimeoutSeconds,
        maxBufferedBytes: options.maxBufferedBytes,
        onBufferedOverflow: options.onBufferedOverflow,
        yieldTurn: options.yieldTurn,
        headTimeoutMs: options.httpDeadlines?.headerTimeoutMs || undefined,
        httpDeadlines: options.httpDeadlines,
        gate: options.gate,
        onLimit: options.onLimit,
        onAcceptError: (err) => {
          options.onAcceptError();
          // Out of descriptors, this repeats: say it once every 10 s.
          const now = Date.now();
          if (options.log !== "quiet" && now - acceptErrorLoggedAt > 10_000) {
            acceptErrorLoggedAt = now;
            console.error(`arqon: accepting a connection failed (retrying): ${err}`);
          }
        },
        upgrade: (headers) => negotiateUpgrade(ws, headers),
        attach: (connection, protocol) => ws.attach(connection, formatOf(protocol)),
      });
      if (options.tls) {
        const frontDoor = door;
        tls = await startTlsTerminator({
          cert: await Deno.readTextFile(options.tls.certFile),
          key: await Deno.readTextFile(options.tls.keyFile),
          hostname: options.host,
          port: options.port,
          onConnection: (conn, client) => frontDoor.accept(conn, client),
          onHandshakeError: options.onHandshakeError,
        });
      }
    } catch (err) {
      door?.close();
      await server.shutdown();
      await removeSocketDir();
      throw err;
    }
  }
  const addr = tls
    ? { hostname: tls.hostname, port: tls.port }
    : door
    ? { hostname: door.hostname, port: door.port }
    : plainAddr!;
  const host = addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname;
  return {
    port: addr.port,
    url: `${tls ? "https" : "http"}://${host}:${addr.port}`,
    wsUrl: `${tls ? "wss" : "ws"}://${host}:${addr.port}${WS_PATH}`,
    finished: server.finished,
    closeFront: async () => {
      await tls?.close();
      door?.close();
    },
    shutdownHttp: async () => {
      await server.shutdown();
      await removeSocketDir();
    },
  };
}

/** The client of a request on the private socket that came without the front door's header. */
const UNKNOWN_CLIENT: Deno.NetAddr = { transport: "tcp", hostname: "?", port: 0 };
