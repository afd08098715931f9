/**
 * The shared-memory carrier behind the browser `WebSocket` API: code written for a
 * WebSocket with subprotocol `arqon.v1.proto` (the TypeScript client, for one) runs over a
 * node's `--shm <name>` by constructing `new ShmWebSocket("shm://<name>")` instead.
 * Messages are binary `Frame`s, delivered as `ArrayBuffer`s.
 * @module
 */
import { ShmClient, type ShmClientOptions } from "./shm_client.ts";

/** The subprotocol an shm connection speaks (it carries protobuf frames only). */
const PROTOCOL = "arqon.v1.proto";

/** A `WebSocket`-shaped connection to a node's shm listener. */
export class ShmWebSocket extends EventTarget {
  /** `readyState` values, as on `WebSocket`. */
  static readonly CONNECTING = 0;
  /** Open: `send` works. */
  static readonly OPEN = 1;
  /** `close()` was called. */
  static readonly CLOSING = 2;
  /** The connection is gone. */
  static readonly CLOSED = 3;
  /** Instance alias of `ShmWebSocket.CONNECTING`. */
  readonly CONNECTING = 0;
  /** Instance alias of `ShmWebSocket.OPEN`. */
  readonly OPEN = 1;
  /** Instance alias of `ShmWebSocket.CLOSING`. */
  readonly CLOSING = 2;
  /** Instance alias of `ShmWebSocket.CLOSED`. */
  readonly CLOSED = 3;

  /** The `shm://<name>` URL. */
  readonly url: string;
  /** Always `arqon.v1.proto`. */
  readonly protocol: string = PROTOCOL;
  /** Only `arraybuffer` is supported. */
  binaryType: BinaryType = "arraybuffer";
  /** Connection state. */
  readyState = 0;
  /** Handler of `open` events. */
  onopen: ((ev: Event) => void) | null = null;
  /** Handler of `message` events (`data` is an `ArrayBuffer`). */
  onmessage: ((ev: MessageEvent) => void) | null = null;
  /** Handler of `error` events. */
  onerror: ((ev: Event) => void) | null = null;
  /** Handler of `close` events. */
  onclose: ((ev: CloseEvent) => void) | null = null;
  #client: ShmClient | null = null;
  #closeCode = 1006;
  #closeReason = "";

  /** Connects to `shm://<name>` (or a bare name); events fire from the next task on. */
  constructor(url: string, _protocols?: string | string[], options: ShmClientOptions = {}) {
    super();
    this.url = url;
    const name = url.startsWith("shm://") ? url.slice("shm://".length) : url;
    setTimeout(() => {
      if (this.readyState === ShmWebSocket.CLOSING) return this.#finish();
      try {
        this.#client = ShmClient.connect(name, options);
      } catch (err) {
        this.#closeReason = (err as Error).message;
        this.#emit(new Event("error"));
        this.#finish();
        return;
      }
      this.#client.onFrame = (frame) => {
        const data = frame.buffer.byteLength === frame.length ? frame.buffer : frame.slice().buffer;
        this.#emit(new MessageEvent("message", { data }));
      };
      this.#client.closed.then(() => {
        if (this.#client?.error) {
          this.#closeReason = String(this.#client.error);
          this.#emit(new Event("error"));
        }
        this.#finish();
      });
      this.readyState = ShmWebSocket.OPEN;
      this.#emit(new Event("open"));
    }, 0);
  }

  /** Bytes queued because the ring is full. */
  get bufferedAmount(): number {
    return this.#client?.bufferedAmount() ?? 0;
  }

  /** Extensions negotiated: none. */
  get extensions(): string {
    return "";
  }

  /** Sends one binary frame. */
  send(data: string | ArrayBufferLike | Blob | ArrayBufferView): void {
    if (this.readyState === ShmWebSocket.CONNECTING) {
      throw new DOMException("ShmWebSocket is not open yet", "InvalidStateError");
    }
    if (this.readyState !== ShmWebSocket.OPEN || !this.#client) return;
    let bytes: Uint8Array;
    if (typeof data === "string") bytes = new TextEncoder().encode(data);
    else if (ArrayBuffer.isView(data)) {
      bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    } else if (data instanceof Blob) throw new TypeError("ShmWebSocket does not send Blobs");
    else bytes = new Uint8Array(data);
    // The outbox keeps the frame until it is flushed: copy views of reusable buffers.
    this.#client.send(bytes.slice());
  }

  /** Closes the connection; `close` fires once the receive loop stopped. */
  close(code = 1000, reason = ""): void {
    if (this.readyState >= ShmWebSocket.CLOSING) return;
    this.#closeCode = code;
    this.#closeReason = reason;
    // Still connecting: the connect task sees CLOSING and stops.
    this.readyState = ShmWebSocket.CLOSING;
    this.#client?.close();
  }

  #finish(): void {
    if (this.readyState === ShmWebSocket.CLOSED) return;
    const clean = this.readyState === ShmWebSocket.CLOSING;
    this.readyState = ShmWebSocket.CLOSED;
    this.#emit(
      new CloseEvent("close", {
        code: clean ? this.#closeCode : 1006,
        reason: this.#closeReason,
        wasClean: clean,
      }),
    );
  }

  #emit(ev: Event): void {
    const handler = {
      open: this.onopen,
      message: this.onmessage,
      error: this.onerror,
      close: this.onclose,
    }[ev.type] as ((e: Event) => void) | null;
    handler?.call(this, ev);
    this.dispatchEvent(ev);
  }
}
