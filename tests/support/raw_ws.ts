/**
 * A raw WebSocket test client (the runtime's WebSocket, not our SDK) that records every
 * frame the node sends and lets a test wait for the ones it expects.
 * @module
 */
import { F, frames, type PbMessage } from "./pb.ts";

/** A recorded server frame: its kind's field number and decoded body. */
export type Received = [number, PbMessage];

/** A WebSocket connection recording what the node sends. */
export class RawSocket {
  /** Every binary frame, flattened out of batches. */
  readonly received: Received[] = [];
  /** Every text frame, parsed as JSON. */
  readonly json: Record<string, unknown>[] = [];
  /** Close code once closed. */
  closeCode: number | null = null;
  readonly ws: WebSocket;
  #waiters: (() => void)[] = [];

  private constructor(ws: WebSocket) {
    this.ws = ws;
    ws.binaryType = "arraybuffer";
    ws.onmessage = (e) => {
      if (typeof e.data === "string") {
        const v = JSON.parse(e.data);
        const batch = v.batch?.frames as Record<string, unknown>[] | undefined;
        this.json.push(...(batch ?? [v]));
      } else this.received.push(...frames(new Uint8Array(e.data)));
      this.#notify();
    };
    ws.onclose = (e) => {
      this.closeCode = e.code;
      this.#notify();
    };
  }

  /** Opens a socket with the given subprotocol. */
  static open(url: string, protocol: string): Promise<RawSocket> {
    const ws = new WebSocket(url, protocol);
    const s = new RawSocket(ws);
    return new Promise((resolve, reject) => {
      ws.onopen = () => resolve(s);
      ws.onerror = (e) => reject(new Error(`websocket failed: ${(e as ErrorEvent).message}`));
    });
  }

  #notify(): void {
    const w = this.#waiters;
    this.#waiters = [];
    for (const f of w) f();
  }

  /** Sends bytes or text. */
  send(data: Uint8Array | string): void {
    this.ws.send(data as Uint8Array<ArrayBuffer>);
  }

  /** Waits until `predicate` holds over what was received (5 s timeout). */
  async until(predicate: () => boolean, what = "condition", timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate()) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 100));
        this.#waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** Received frames of one kind. */
  of(kind: number): PbMessage[] {
    return this.received.filter(([k]) => k === kind).map(([, m]) => m);
  }

  /** Waits for `count` frames of a kind and returns them. */
  async wait(kind: number, count = 1): Promise<PbMessage[]> {
    const name = Object.entries(F).find(([, v]) => v === kind)?.[0] ?? kind;
    await this.until(() => this.of(kind).length >= count, `${count} ${name} frame(s)`);
    return this.of(kind);
  }

  /** Closes the socket and waits for the close. */
  async close(): Promise<void> {
    if (this.closeCode !== null) return;
    this.ws.close();
    await this.until(() => this.closeCode !== null, "close");
  }
}
