/**
 * The client's transports, from a factory keyed by URL scheme: `ws://`/`wss://` (the
 * runtime's WebSocket, or ours with Nagle off: `noDelay`), `tcp://`/`tls://` (the node's
 * raw TCP listener, `--tcp-port`), `shm://` (shared memory, through the native sidecar).
 * Each gives the subset of the `WebSocket` interface the client uses.
 * @module
 */
import { SUBPROTOCOL_PROTO } from "../protocol/mod.ts";
import type { ConnectOptions } from "./options.ts";
import { TcpFrameSocket } from "./tcp_frame_socket.ts";
import { TcpWebSocket } from "./tcp_websocket.ts";

/** Opens the socket of one URL scheme. */
type Dialer = (url: string, options: ConnectOptions) => WebSocket | Promise<WebSocket>;

/**
 * Bytes a caller of `sendOwned` leaves free before the message: a WebSocket client frame's
 * longest header (10) and its masking key (4).
 */
export const OUTBOX_ROOM = 14;

/** A socket that sends a message where it was encoded, framing and masking it in place. */
export interface InPlaceSender {
  /**
   * Sends the binary message `buffer[at, end)`, with at least `OUTBOX_ROOM` free bytes
   * before `at` for the socket's framing; the socket owns `buffer` from then on.
   */
  sendOwned(buffer: Uint8Array, at: number, end: number): void;
}

/** Whether `ws` can encode a message in place (our TCP sockets can). */
export function sendsInPlace(ws: WebSocket): ws is WebSocket & InPlaceSender {
  return ws instanceof TcpWebSocket || ws instanceof TcpFrameSocket;
}

const hasDenoConnect = () => typeof Deno?.connect === "function";

const webSocket: Dialer = (url, options) =>
  options.noDelay && url.startsWith("ws://") && hasDenoConnect()
    ? new TcpWebSocket(url, [SUBPROTOCOL_PROTO]) as unknown as WebSocket
    : new WebSocket(url, [SUBPROTOCOL_PROTO]);

const rawTcp: Dialer = (url, options) =>
  new TcpFrameSocket(url, { caCerts: options.caCerts }) as unknown as WebSocket;

// shm is loaded only when asked for: it needs the native sidecar and --allow-ffi.
const sharedMemory: Dialer = (url) =>
  import("../transport/mod.ts").then((m) => new m.ShmWebSocket(url) as unknown as WebSocket);

const DIALERS: Readonly<Record<string, Dialer>> = {
  "ws:": webSocket,
  "wss:": webSocket,
  "tcp:": rawTcp,
  "tls:": rawTcp,
  "shm:": sharedMemory,
};

/**
 * The socket for `url`, by its scheme (unknown schemes go to the runtime's WebSocket,
 * which names the problem). Synchronous except for `shm://`, so the socket exists in the
 * same turn as the call.
 */
export function dial(url: string, options: ConnectOptions): WebSocket | Promise<WebSocket> {
  const dialer = DIALERS[url.slice(0, url.indexOf(":") + 1).toLowerCase()] ?? webSocket;
  const socket = dialer(url, options);
  return socket instanceof Promise ? socket.then(binary) : binary(socket);
}

function binary(ws: WebSocket): WebSocket {
  ws.binaryType = "arraybuffer";
  return ws;
}
