/**
 * The WebSocket carrier of the `Transport` contract, on Deno's server-side WebSocket.
 * @module
 */
import type { Transport } from "../transport/mod.ts";

/** A server-side WebSocket connection; lives until the socket closes. */
export class WebSocketTransport implements Transport {
  /** Metric label of this carrier. */
  readonly kind = "ws";
  /** Peer address. */
  readonly remote: string;
  readonly #socket: WebSocket;

  /** Wraps an upgraded socket. */
  constructor(socket: WebSocket, remote: string) {
    this.#socket = socket;
    this.remote = remote;
  }

  /** Sends one frame; dropped silently once the socket is closing (the session is ending). */
  send(frame: Uint8Array | string): void {
    if (this.#socket.readyState !== WebSocket.OPEN) return;
    this.#socket.send(frame as Uint8Array<ArrayBuffer> | string);
  }

  /** Bytes queued in the socket, not yet written to the kernel. */
  bufferedAmount(): number {
    return this.#socket.bufferedAmount;
  }

  /** Closes the socket with a WebSocket close code. */
  close(code = 1000, reason = ""): void {
    try {
      this.#socket.close(code, reason.slice(0, 120));
    } catch { /* already closed */ }
  }
}
