/**
 * Test helper: a raw WebSocket peer speaking `arqon.v1.proto` frame by frame, for the
 * security tests that need frames the SDK does not send (DID hellos, replays, oversize).
 * @module
 */
import {
  decodeFrame,
  encodeFrame,
  type IFrame,
  SUBPROTOCOL_PROTO,
} from "../runtime/protocol/mod.ts";

/** A raw protocol peer. */
export class WirePeer {
  readonly #ws: WebSocket;
  readonly #frames: IFrame[] = [];
  #waiter: (() => void) | null = null;
  /** Resolves with the close code and reason when the connection ends. */
  readonly closed: Promise<{ code: number; reason: string }>;

  private constructor(ws: WebSocket) {
    this.#ws = ws;
    this.closed = new Promise((resolve) =>
      ws.addEventListener("close", (e) => resolve({ code: e.code, reason: e.reason }))
    );
    ws.onmessage = (e) => {
      const frame = decodeFrame(new Uint8Array(e.data as ArrayBuffer));
      if (frame.kind === "batch") this.#frames.push(...(frame.batch?.frames ?? []).map(withKind));
      else this.#frames.push(frame);
      this.#waiter?.();
    };
  }

  /** Opens a connection to a node's WebSocket URL. */
  static async open(url: string): Promise<WirePeer> {
    const ws = new WebSocket(url, SUBPROTOCOL_PROTO);
    ws.binaryType = "arraybuffer";
    await new Promise<void>((resolve, reject) => {
      ws.onopen = () => resolve();
      ws.onerror = () => reject(new Error("websocket failed to open"));
    });
    return new WirePeer(ws);
  }

  /** Sends one frame. */
  send(frame: IFrame): void {
    this.#ws.send(encodeFrame(frame));
  }

  /** The next frame from the node (waits up to `timeoutMs`). */
  async next(timeoutMs = 5000): Promise<IFrame> {
    const deadline = Date.now() + timeoutMs;
    while (this.#frames.length === 0) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error("no frame from the node in time");
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        this.#waiter = resolve;
        timer = setTimeout(resolve, left);
      });
      clearTimeout(timer);
      this.#waiter = null;
    }
    return this.#frames.shift()!;
  }

  /** Closes the connection and waits for it to be gone. */
  async close(): Promise<void> {
    this.#ws.close();
    await this.closed;
  }

  /** Frames received and not yet taken with `next`. */
  get pending(): readonly IFrame[] {
    return this.#frames;
  }
}

function withKind(frame: IFrame): IFrame {
  if (frame.kind) return frame;
  const kind = Object.keys(frame).find((k) => (frame as Record<string, unknown>)[k] != null);
  return { ...frame, kind };
}
