/**
 * A point-to-point UDP link as a node `Transport`: one local socket, one peer (a device,
 * a sidecar), each datagram one protobuf `Frame`. Batched deliveries bigger than a
 * datagram are split into several `Frame{batch}` datagrams at frame boundaries.
 *
 * UDP is lossy by nature: sequence gaps are counted (`lost`), never repaired; use the shm
 * carrier or WebSocket where every frame must arrive.
 * @module
 */
import { setImmediate } from "node:timers";
import type { Transport, TransportSession } from "./transport.ts";
import { UdpEndpoint } from "./udp.ts";
import type { NativeGaugeSource, NativeMetrics } from "./metrics.ts";

/** Options of a UDP link. */
export interface UdpLinkOptions {
  /** Largest datagram payload. Default 1400 (fits an Ethernet MTU). */
  maxFrame?: number;
  /** Keep polling this long after the last datagram before parking (ms). Default 20. */
  hotWindowMs?: number;
  /** Metrics to report frames, batch sizes and loss to. */
  metrics?: NativeMetrics;
}

const KEY_FRAME_BATCH = (14 << 3) | 2; // Frame.batch = 14, length-delimited
const KEY_BATCH_FRAMES = (1 << 3) | 2; // Batch.frames = 1, length-delimited

function readVarint(buf: Uint8Array, at: number): [value: number, next: number] {
  let v = 0;
  let shift = 0;
  for (let i = at; i < buf.length && shift < 35; i++, shift += 7) {
    v += (buf[i] & 0x7f) * 2 ** shift;
    if (!(buf[i] & 0x80)) return [v, i + 1];
  }
  throw new Error("malformed varint");
}

function varint(n: number): number[] {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return out;
}

/** The encoded inner frames of a `Frame{batch}`, or null when `frame` is not a batch. */
export function batchMembers(frame: Uint8Array): Uint8Array[] | null {
  if (frame[0] !== KEY_FRAME_BATCH) return null;
  const [len, start] = readVarint(frame, 1);
  if (start + len !== frame.length) return null;
  const members: Uint8Array[] = [];
  for (let at = start; at < frame.length;) {
    if (frame[at] !== KEY_BATCH_FRAMES) return null;
    const [n, body] = readVarint(frame, at + 1);
    members.push(frame.subarray(body, body + n));
    at = body + n;
  }
  return members;
}

/** Re-wraps `members` into as few `Frame{batch}` messages of at most `max` bytes as fit. */
export function splitBatch(members: Uint8Array[], max: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  let group: Uint8Array[] = [];
  let body = 0;
  const entry = (m: Uint8Array) => 1 + varint(m.length).length + m.length;
  const flush = () => {
    if (group.length === 0) return;
    const head = [KEY_FRAME_BATCH, ...varint(body)];
    const msg = new Uint8Array(head.length + body);
    msg.set(head);
    let at = head.length;
    for (const m of group) {
      const h = [KEY_BATCH_FRAMES, ...varint(m.length)];
      msg.set(h, at);
      msg.set(m, at + h.length);
      at += h.length + m.length;
    }
    out.push(msg);
    group = [];
    body = 0;
  };
  for (const m of members) {
    const size = entry(m);
    if (1 + varint(body + size).length + body + size > max) flush();
    group.push(m);
    body += size;
  }
  flush();
  return out;
}

/** One UDP peer attached to the node. */
export class UdpLink implements Transport, NativeGaugeSource {
  /** Metric label of the carrier. */
  readonly kind = "udp";
  /** Backend label for native metrics. */
  readonly backend = "udp";
  /** The peer address. */
  readonly remote: string;
  readonly #ep: UdpEndpoint;
  readonly #hotWindowMs: number;
  readonly #loop: Promise<void>;
  readonly #metrics?: NativeMetrics;
  #session: TransportSession;
  #overflow: Uint8Array[] = [];
  #overflowBytes = 0;
  #queued = false;
  #closed = false;
  /** Frames dropped because even alone they exceed a datagram. */
  oversized = 0;

  /**
   * Binds `bind` (`ip:port`), sends to `peer`, and attaches the link to the node with
   * `attach` (`(t) => node.attach(t, "proto")`).
   */
  constructor(
    bind: string,
    peer: string,
    attach: (transport: Transport) => TransportSession,
    options: UdpLinkOptions = {},
  ) {
    this.#ep = new UdpEndpoint(bind, options.maxFrame ?? 1400);
    this.#ep.connect(peer);
    this.remote = `udp:${peer}`;
    this.#hotWindowMs = options.hotWindowMs ?? 20;
    this.#metrics = options.metrics;
    const m = options.metrics;
    if (m) {
      this.#ep.onBatch = (direction, frames) => m.batch("udp", direction, frames);
      m.track(this);
    }
    this.#session = attach(this);
    this.#loop = this.#run();
  }

  /** The bound local port. */
  get port(): number {
    return this.#ep.port;
  }

  send(frame: Uint8Array | string): void {
    if (this.#closed) return;
    const bytes = typeof frame === "string" ? new TextEncoder().encode(frame) : frame;
    let parts = [bytes];
    if (bytes.length > this.#ep.maxFrame) {
      const members = batchMembers(bytes);
      parts = members ? splitBatch(members, this.#ep.maxFrame) : [];
    }
    for (const p of parts) {
      if (p.length > this.#ep.maxFrame) {
        this.oversized++;
        continue;
      }
      if (this.#overflow.length > 0 || !this.#ep.enqueue(p)) {
        this.#overflow.push(p);
        this.#overflowBytes += p.length;
      }
    }
    if (parts.length === 0) this.oversized++;
    if (!this.#queued) {
      this.#queued = true;
      queueMicrotask(() => {
        this.#queued = false;
        this.#flush();
      });
    }
  }

  bufferedAmount(): number {
    return this.#closed ? 0 : this.#ep.pendingBytes + this.#overflowBytes;
  }

  #flush(): void {
    if (this.#closed) return;
    if (this.#ep.flush() > 0) return;
    let i = 0;
    while (i < this.#overflow.length && this.#ep.enqueue(this.#overflow[i])) {
      this.#overflowBytes -= this.#overflow[i].length;
      i++;
    }
    this.#overflow.splice(0, i);
    if (i > 0) this.#ep.flush();
  }

  fill(): { tx: number; rx: number; capacity: number } {
    return { tx: this.bufferedAmount(), rx: 0, capacity: 0 };
  }

  overruns(): number {
    return this.#closed ? 0 : this.#ep.stats().overruns;
  }

  lost(): number {
    return this.#closed ? 0 : this.#ep.stats().lost;
  }

  async #run(): Promise<void> {
    let lastActive = performance.now();
    while (!this.#closed) {
      const now = performance.now();
      let n = 0;
      try {
        n = this.#ep.receive((f) => this.#session.receive(f.slice()));
      } catch (err) {
        console.error(`arqon: udp link ${this.remote}:`, err);
      }
      if (n > 0) lastActive = now;
      if (this.bufferedAmount() > 0) this.#flush();
      if (now - lastActive < this.#hotWindowMs || this.bufferedAmount() > 0) {
        await new Promise<void>((r) => setImmediate(r));
      } else {
        await this.#ep.wait(20);
      }
    }
  }

  /** Stops the link and closes the socket; the session sees `closed` unless it closed it. */
  close(_code?: number, _reason?: string): void {
    if (this.#closed) return;
    this.#flush();
    // Retire the counters while they are still readable.
    this.#metrics?.untrack(this);
    this.#closed = true;
    // A parked wait may still use the socket: close it once the loop has stopped.
    this.#loop.then(() => this.#ep.close());
  }

  /** Closes the link from the node side and tells the session; resolves once stopped. */
  async shutdown(): Promise<void> {
    if (!this.#closed) {
      this.close();
      this.#session.closed();
    }
    await this.#loop;
  }
}
