/**
 * The raw TCP listener (`--tcp-port`): accepts connections (or takes them decrypted from
 * a TLS terminator: `port` null), admits each through the node's connection cap, and
 * serves it as a `TcpServerConnection` on the node's sessions.
 * @module
 */
import { encodeFrame, errorCodeValue } from "../../protocol/mod.ts";
import type { Transport, TransportSession } from "../transport.ts";
import { TcpServerConnection, type TcpServerOptions } from "./connection.ts";
import { lengthPrefixed } from "./framer.ts";

/** The connection cap the listener admits connections through (the node's gate). */
export interface TcpGate {
  /** Admits a connection holding `descriptors`, or names the bound it hits. */
  enter(descriptors: number): string | undefined;
  /** An admitted connection ended. */
  leave(descriptors: number): void;
}

/** What the TCP listener needs from the node. */
export interface TcpListenerOptions extends TcpServerOptions {
  /** Address to listen on (the node's `--host`). */
  readonly host: string;
  /** Port (0: ephemeral); null: no listener of its own, connections come to `accept`. */
  readonly port: number | null;
  /** Starts a session on a connection (`ArqonNode.attach`). */
  readonly attach: (transport: Transport, format: "proto") => TransportSession;
  /** The node's connection cap; absent: none. */
  readonly gate?: TcpGate;
  /** Reports a failed accept (e.g. out of file descriptors); the listener carries on. */
  readonly onAcceptError?: (error: unknown) => void;
}

/** A running TCP listener. */
export interface TcpListener {
  /** The bound port (0 without a listener of its own). */
  readonly port: number;
  /** Serves a connection accepted elsewhere (decrypted by a TLS terminator). */
  accept(conn: Deno.Conn, remote: string): void;
  /** Stops accepting and closes every connection (sessions release their subscriptions). */
  close(): Promise<void>;
}

/**
 * Starts the raw TCP listener.
 *
 * @example
 * ```ts ignore
 * const tcp = startTcpListener({ host: "127.0.0.1", port: 0, attach, maxFrameBytes, ... });
 * console.log(tcp.port);
 * await tcp.close();
 * ```
 */
export function startTcpListener(opts: TcpListenerOptions): TcpListener {
  const listener = opts.port === null
    ? null
    : Deno.listen({ hostname: opts.host, port: opts.port });
  const live = new Set<TcpServerConnection>();
  const ended = new Set<Promise<void>>();
  let closing = false;
  const accept = (conn: Deno.Conn, remote: string) => {
    if (closing) {
      try {
        conn.close();
      } catch { /* gone */ }
      return;
    }
    const refusal = opts.gate?.enter(1);
    if (refusal) {
      opts.onLimit?.(refusal);
      refuse(conn, refusal);
      return;
    }
    try {
      (conn as Deno.TcpConn).setNoDelay?.(true);
    } catch { /* not fatal */ }
    const connection = new TcpServerConnection(conn, remote, opts);
    const done = Promise.withResolvers<void>();
    live.add(connection);
    ended.add(done.promise);
    const session = opts.attach(connection, "proto");
    connection.start({
      receive: (frame) => session.receive(frame),
      closed: () => {
        live.delete(connection);
        ended.delete(done.promise);
        opts.gate?.leave(1);
        session.closed();
        done.resolve();
      },
    });
  };
  const accepting = listener
    ? (async () => {
      while (!closing) {
        let conn: Deno.TcpConn;
        try {
          conn = await listener.accept();
        } catch (err) {
          if (closing || err instanceof Deno.errors.BadResource) return;
          opts.onAcceptError?.(err);
          await new Promise((r) => setTimeout(r, 50));
          continue;
        }
        const addr = conn.remoteAddr as Deno.NetAddr;
        const host = addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname;
        accept(conn, `${host}:${addr.port}`);
      }
    })()
    : Promise.resolve();
  return {
    port: (listener?.addr as Deno.NetAddr | undefined)?.port ?? 0,
    accept,
    close: async () => {
      closing = true;
      try {
        listener?.close();
      } catch { /* closed */ }
      await accepting;
      for (const connection of live) connection.close(1001, "node shutting down");
      await Promise.all([...ended]);
    },
  };
}

/** Answers a connection over the cap with a QUOTA_EXCEEDED Error frame, then closes it. */
async function refuse(conn: Deno.Conn, reason: string): Promise<void> {
  const message = reason === "max_connections"
    ? "the node holds its maximum of connections; try again later"
    : "the node is out of file descriptors for connections; try again later";
  const frame = lengthPrefixed(
    encodeFrame({ error: { code: errorCodeValue("QUOTA_EXCEEDED"), message } }),
  );
  const timer = setTimeout(() => {
    try {
      conn.close();
    } catch { /* gone */ }
  }, 1000);
  try {
    // A fresh socket's send buffer takes these few bytes at once.
    await conn.write(frame);
  } catch { /* the client is gone */ }
  clearTimeout(timer);
  try {
    conn.close();
  } catch { /* gone */ }
}
