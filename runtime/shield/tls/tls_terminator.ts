/**
 * TLS 1.3-only front door. `Deno.serve` with a certificate still negotiates TLS 1.2, so
 * the node listens on a `node:tls` server with `minVersion: "TLSv1.3"` (which Deno
 * honours) and pipes each decrypted connection to its own plain listener on loopback.
 * HTTP, SSE and WebSocket all pass through untouched, since the pipe is bytes.
 *
 * The plain listener sees every connection coming from loopback; `peerOf`/`peerAddrOf`
 * map the loopback port it sees back to the real client address, for sessions, logs,
 * audit entries and per-client limits. A mapping lives exactly as long as its pipe.
 *
 * The node itself does not pipe: with `onConnection`, each decrypted connection is handed
 * over in process (as a `SocketConn`), so no plain listener exists for a local program to
 * send tokens to in clear text.
 * @module
 */
import { connect, type Socket } from "node:net";
import { createServer, type Server, type TLSSocket } from "node:tls";
import { formatAddress, normalizeHost, type PeerAddress } from "./client_address.ts";
import { SocketConn } from "./socket_conn.ts";

/** One piped connection: the upstream socket's local host and the real client. */
interface Pipe {
  readonly localHost: string;
  readonly peer: PeerAddress;
}

/** Where the terminator listens and where it forwards. */
export interface TlsTerminatorOptions {
  /** PEM certificate chain. */
  readonly cert: string;
  /** PEM private key. */
  readonly key: string;
  readonly hostname: string;
  /** 0 picks an ephemeral port. */
  readonly port: number;
  /** A plain listener (loopback) to pipe decrypted connections to; or use `onConnection`. */
  readonly upstream?: { readonly hostname: string; readonly port: number };
  /** Takes each decrypted connection in process, with its client (instead of `upstream`). */
  readonly onConnection?: (conn: Deno.Conn, client: PeerAddress) => void;
  /** Seconds a client may take to finish the handshake; default 10. */
  readonly handshakeTimeoutSeconds?: number;
  /** Reports a refused handshake (e.g. a TLS 1.2 client), for logs and metrics. */
  readonly onHandshakeError?: (error: Error) => void;
}

/** A running terminator. */
export interface TlsTerminator {
  readonly hostname: string;
  readonly port: number;
  /** Open client connections. */
  readonly connections: number;
  /** Piped connections whose client mapping is held (for leak checks). */
  readonly mappedPeers: number;
  /** The real client (`host:port`) of the upstream connection whose local port is given. */
  peerOf(upstreamLocalPort: number): string | undefined;
  /**
   * The real client of the upstream connection whose local end is
   * `upstreamLocalHost:upstreamLocalPort` (host checked when given).
   */
  peerAddrOf(upstreamLocalPort: number, upstreamLocalHost?: string): PeerAddress | undefined;
  /** Stops listening and closes every piped connection. */
  close(): Promise<void>;
}

/** Starts a TLS 1.3-only listener that forwards to `options.upstream`. */
export async function startTlsTerminator(options: TlsTerminatorOptions): Promise<TlsTerminator> {
  const peers = new Map<number, Pipe>();
  const open = new Set<Socket>();
  const server: Server = createServer({
    cert: options.cert,
    key: options.key,
    minVersion: "TLSv1.3",
    maxVersion: "TLSv1.3",
    ALPNProtocols: ["http/1.1"],
    handshakeTimeout: (options.handshakeTimeoutSeconds ?? 10) * 1000,
  }, (client: TLSSocket) => {
    if (!options.onConnection) return pipe(client, options.upstream!, peers, open);
    const peer = {
      hostname: normalizeHost(client.remoteAddress ?? "?"),
      port: client.remotePort ?? 0,
    };
    client.setNoDelay(true);
    open.add(client);
    client.on("close", () => open.delete(client));
    options.onConnection(new SocketConn(client, peer) as unknown as Deno.Conn, peer);
  });
  server.on("tlsClientError", (error: Error, socket: Socket) => {
    options.onHandshakeError?.(error);
    socket.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.hostname, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : options.port;
  return {
    hostname: options.hostname,
    port,
    get connections() {
      return options.onConnection ? open.size : open.size / 2;
    },
    get mappedPeers() {
      return peers.size;
    },
    peerOf: (upstreamLocalPort) => {
      const entry = peers.get(upstreamLocalPort);
      return entry ? formatAddress(entry.peer) : undefined;
    },
    peerAddrOf: (upstreamLocalPort, upstreamLocalHost) => {
      const entry = peers.get(upstreamLocalPort);
      if (!entry || (upstreamLocalHost !== undefined && upstreamLocalHost !== entry.localHost)) {
        return undefined;
      }
      return entry.peer;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of open) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

function pipe(
  client: TLSSocket,
  upstream: { hostname: string; port: number },
  peers: Map<number, Pipe>,
  open: Set<Socket>,
): void {
  const peer = {
    hostname: normalizeHost(client.remoteAddress ?? "?"),
    port: client.remotePort ?? 0,
  };
  const inner = connect({ host: upstream.hostname, port: upstream.port });
  inner.setNoDelay(true);
  client.setNoDelay(true);
  open.add(client);
  open.add(inner);
  let localPort: number | undefined;
  let entry: Pipe | undefined;
  // Registered before any bytes are piped: the mapping exists before the node reads a request.
  inner.once("connect", () => {
    localPort = inner.localPort;
    if (localPort === undefined) return;
    entry = { localHost: normalizeHost(inner.localAddress ?? ""), peer };
    peers.set(localPort, entry);
  });
  const done = () => {
    // Only our own entry: the port may already serve a newer pipe.
    if (localPort !== undefined && peers.get(localPort) === entry) peers.delete(localPort);
    open.delete(client);
    open.delete(inner);
    client.destroy();
    inner.destroy();
  };
  client.on("error", done).on("close", done);
  inner.on("error", done).on("close", done);
  client.pipe(inner);
  inner.pipe(client);
}
