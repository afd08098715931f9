/**
 * The node side of the shared-memory carrier: a `ShmServer` owns a listener, accepts
 * local processes into its slots and attaches each as a `Transport` to the node, which
 * then speaks the same protobuf frames as over a WebSocket.
 *
 * Scheduling: while frames move (and for `hotWindowMs` after), the server polls every
 * connection from a `setImmediate` loop with synchronous FFI calls (a few microseconds per
 * turn, I/O still runs between turns). When idle it parks a worker thread on the
 * listener's futex with one `nonblocking` call, so an idle node costs no CPU.
 * @module
 */
import { setImmediate } from "node:timers";
import type { Transport, TransportSession } from "./transport.ts";
import { type ShmEndpoint, ShmListener, type ShmListenerOptions } from "./shm.ts";
import type { NativeGaugeSource, NativeMetrics } from "./metrics.ts";
import { ShmOutbox } from "./shm_outbox.ts";

/** Attaches a connection to the node (`node.attach(t, "proto")`). */
export type AttachTransport = (transport: Transport) => TransportSession;

/** Options of a shm server. */
export interface ShmServerOptions extends ShmListenerOptions {
  /** Keep polling this long after the last frame before parking (ms). Default 20. */
  hotWindowMs?: number;
  /** Longest single park on the futex (µs); bounds how long `close()` waits. Default 20000. */
  idleWaitUs?: number;
  /** How often to check that client processes are still alive (ms). Default 500. */
  livenessMs?: number;
  /** Receive calls per connection per turn, so one busy client cannot starve others. */
  receiveBurst?: number;
  /** Metrics to report ring fill, overruns and batch sizes to. */
  metrics?: NativeMetrics;
}

const encoder = new TextEncoder();

/** One accepted shm client as the node sees it. */
class ShmConnection implements Transport, NativeGaugeSource {
  readonly kind = "shm";
  readonly backend = "shm";
  readonly remote: string;
  readonly #ep: ShmEndpoint;
  readonly #server: ShmServer;
  #session: TransportSession | null = null;
  readonly #outbox: ShmOutbox;
  #ended = false;

  constructor(ep: ShmEndpoint, server: ShmServer, slotName: string) {
    this.#ep = ep;
    this.#server = server;
    // Errors surface inside the session's own send/flush: end the connection after it
    // returns, not re-entrantly.
    this.#outbox = new ShmOutbox(ep, () => queueMicrotask(() => this.end()));
    this.remote = `${slotName} (pid ${ep.peerPid})`;
    const m = server.metrics;
    if (m) ep.onBatch = (direction, frames) => m.batch("shm", direction, frames);
  }

  start(session: TransportSession): void {
    this.#session = session;
  }

  send(frame: Uint8Array | string): void {
    if (this.#ended) return;
    const bytes = typeof frame === "string" ? encoder.encode(frame) : frame;
    if (bytes.length > this.#ep.maxFrame) {
      // A frame the ring can never carry would wedge the connection: drop the client.
      queueMicrotask(() => this.end());
      return;
    }
    this.#outbox.push(bytes);
  }

  bufferedAmount(): number {
    return this.#ended ? 0 : this.#outbox.bytes;
  }

  /** Reads up to `burst` batches and hands each frame to the session; returns frames read. */
  pump(burst: number): number {
    if (this.#ended || !this.#session) return 0;
    const session = this.#session;
    let total = 0;
    for (let i = 0; i < burst; i++) {
      let n: number;
      try {
        // The receive buffer is reused: the session may keep views of its frame (decoded
        // bytes fields), so each frame is copied out.
        n = this.#ep.receive((frame) => session.receive(frame.slice()));
      } catch {
        n = -1;
      }
      if (n < 0) {
        this.end();
        return total;
      }
      if (n === 0) break;
      total += n;
    }
    if (this.#outbox.bytes > 0) this.#outbox.flush();
    return total;
  }

  /** True while output waits for ring space. */
  get backlogged(): boolean {
    return !this.#ended && this.#outbox.bytes > 0;
  }

  checkAlive(): void {
    if (!this.#ended && !this.#ep.alive()) this.end();
  }

  fill(): { tx: number; rx: number; capacity: number } {
    if (this.#ended) return { tx: 0, rx: 0, capacity: 0 };
    const s = this.#ep.stats();
    return { tx: s.txFill, rx: s.rxFill, capacity: s.capacity };
  }

  overruns(): number {
    return this.#ended ? 0 : this.#ep.stats().overruns;
  }

  lost(): number {
    return 0;
  }

  /** Node-initiated close: pushes out what fits, then closes the rings. */
  close(_code?: number, _reason?: string): void {
    if (this.#ended) return;
    this.#outbox.flush();
    this.#finish();
  }

  /** Peer-initiated end (closed, died, or failed): tells the session. */
  end(): void {
    if (this.#ended) return;
    this.#finish();
    this.#session?.closed();
  }

  #finish(): void {
    this.#server.metrics?.untrack(this);
    this.#ended = true;
    this.#ep.close();
    this.#outbox.clear();
    this.#server.forget(this);
  }
}

/** Serves `/dev/shm/<name>` for the node: one `Transport` per connected process. */
export class ShmServer {
  /** The shm name clients connect to. */
  readonly name: string;
  /** Metrics sink, if any. */
  readonly metrics?: NativeMetrics;
  readonly #listener: ShmListener;
  readonly #attach: AttachTransport;
  readonly #conns = new Set<ShmConnection>();
  readonly #hotWindowMs: number;
  readonly #idleWaitUs: number;
  readonly #livenessMs: number;
  readonly #burst: number;
  #stopped = false;
  readonly #loop: Promise<void>;

  /** Creates the listener and starts serving. Throws if the name is owned by a live process. */
  constructor(name: string, attach: AttachTransport, options: ShmServerOptions = {}) {
    this.name = name;
    this.#listener = new ShmListener(name, options);
    this.#attach = attach;
    this.metrics = options.metrics;
    this.#hotWindowMs = options.hotWindowMs ?? 20;
    this.#idleWaitUs = options.idleWaitUs ?? 20_000;
    this.#livenessMs = options.livenessMs ?? 500;
    this.#burst = options.receiveBurst ?? 4;
    this.#loop = this.#run();
  }

  /** Connected clients. */
  get connections(): number {
    return this.#conns.size;
  }

  /** @internal A connection ended. */
  forget(conn: ShmConnection): void {
    this.#conns.delete(conn);
  }

  #acceptAll(): boolean {
    let any = false;
    for (let ep = this.#listener.accept(); ep; ep = this.#listener.accept()) {
      const conn = new ShmConnection(ep, this, `shm:${this.name}`);
      this.#conns.add(conn);
      this.metrics?.track(conn);
      try {
        conn.start(this.#attach(conn));
      } catch (err) {
        // The node refused the connection (e.g. shutting down): drop it, keep serving.
        console.error(`arqon: shm: attaching ${conn.remote} failed:`, err);
        conn.end();
      }
      any = true;
    }
    return any;
  }

  /** One polling turn: accept, read, flush. True when anything moved. */
  #turn(): boolean {
    let moved = this.#acceptAll();
    for (const c of this.#conns) if (c.pump(this.#burst) > 0) moved = true;
    return moved;
  }

  async #run(): Promise<void> {
    let lastActive = performance.now();
    let lastLiveness = lastActive;
    while (!this.#stopped) {
      const now = performance.now();
      if (this.#turn()) lastActive = now;
      if (now - lastLiveness >= this.#livenessMs) {
        lastLiveness = now;
        for (const c of this.#conns) c.checkAlive();
      }
      const backlog = [...this.#conns].some((c) => c.backlogged);
      if (now - lastActive < this.#hotWindowMs) {
        await new Promise<void>((r) => setImmediate(r));
      } else if (backlog) {
        // The client drains its ring without ringing our doorbell: re-check on a timer.
        await new Promise<void>((r) => setTimeout(r, 1));
      } else {
        await this.#listener.wait(this.#idleWaitUs);
      }
    }
  }

  /** Stops serving: ends every connection (their sessions see `closed`) and removes the name. */
  async close(): Promise<void> {
    if (this.#stopped) return this.#loop;
    this.#stopped = true;
    await this.#loop;
    for (const c of [...this.#conns]) c.end();
    this.#listener.close();
  }
}
