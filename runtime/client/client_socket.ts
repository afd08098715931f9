/**
 * What the client's own sockets (`TcpWebSocket`, `TcpFrameSocket`) share of the `WebSocket`
 * interface: the `on*` handlers, `readyState`, and one way to fail and to close, so a
 * connection reports `error` at most once and `close` exactly once.
 * @module
 */

/**
 * The event side of a `WebSocket`-like client socket. A subclass frees its connection in
 * {@linkcode ClientSocket.release}, called once, just before `close` is dispatched.
 */
export abstract class ClientSocket extends EventTarget {
  /** Connection state, as on `WebSocket`. @default WebSocket.CONNECTING */
  readyState: number = WebSocket.CONNECTING;
  /** `open` handler. */
  onopen: ((ev: Event) => void) | null = null;
  /** `message` handler. */
  onmessage: ((ev: MessageEvent) => void) | null = null;
  /** `close` handler. */
  onclose: ((ev: CloseEvent) => void) | null = null;
  /** `error` handler. */
  onerror: ((ev: Event) => void) | null = null;
  #closedEmitted = false;

  /** Whether `close` was dispatched (nothing more happens then). */
  protected get closedEmitted(): boolean {
    return this.#closedEmitted;
  }

  /** Frees the connection (closes it, stops timers, drops queued writes). */
  protected abstract release(): void;

  /** Reports `err` as an `error` event, then closes (1006). */
  protected fail(err: unknown): void {
    if (this.#closedEmitted) return;
    this.emit("error", new ErrorEvent("error", { message: String(err), error: err }));
    this.finish(1006, String((err as Error)?.message ?? err), false);
  }

  /** Ends the connection and dispatches `close` (once). */
  protected finish(code: number, reason: string, wasClean: boolean): void {
    if (this.#closedEmitted) return;
    this.#closedEmitted = true;
    this.readyState = WebSocket.CLOSED;
    this.release();
    this.emit("close", new CloseEvent("close", { code, reason, wasClean }));
  }

  /** Calls the `on<type>` handler, then the listeners. */
  protected emit(type: string, event: Event): void {
    const handler = (this as unknown as Record<string, ((e: Event) => void) | null>)[`on${type}`];
    handler?.call(this, event);
    this.dispatchEvent(event);
  }
}
