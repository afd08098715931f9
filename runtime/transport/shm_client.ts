/**
 * The process side of the shared-memory carrier: connects to a node's `--shm <name>`
 * and exchanges encoded `Frame`s with it, the same bytes a WebSocket client sends.
 * Scheduling mirrors the server: a `setImmediate` polling loop while frames move, a
 * futex park on a worker thread when idle.
 * @module
 */
import { setImmediate } from "node:timers";
import { ShmEndpoint, type ShmStats } from "./shm.ts";
import { ShmOutbox } from "./shm_outbox.ts";

/** Options of a shm client. */
export interface ShmClientOptions {
  /** Keep polling this long after the last frame before parking (ms). Default 20. */
  hotWindowMs?: number;
  /** Longest single park (µs); bounds how long `close()` waits. Default 20000. */
  idleWaitUs?: number;
}

/** A connection from this process to a node over shared memory. */
export class ShmClient {
  readonly #ep: ShmEndpoint;
  readonly #outbox: ShmOutbox;
  readonly #hotWindowMs: number;
  readonly #idleWaitUs: number;
  readonly #closed = Promise.withResolvers<void>();
  #stopping = false;
  #ended = false;
  /** Receives each frame (a copy the callee may keep). */
  onFrame: (frame: Uint8Array) => void = () => {};
  /** Why the connection ended, when an error (a throwing `onFrame`, say) ended it. */
  error: unknown = undefined;

  private constructor(ep: ShmEndpoint, options: ShmClientOptions) {
    this.#ep = ep;
    // The loop owns the endpoint (a parked wait may be using it): errors only stop it.
    this.#outbox = new ShmOutbox(ep, () => {
      this.#stopping = true;
    });
    this.#hotWindowMs = options.hotWindowMs ?? 20;
    this.#idleWaitUs = options.idleWaitUs ?? 20_000;
  }

  /** Connects to the node's shm listener `name` and starts receiving. */
  static connect(name: string, options: ShmClientOptions = {}): ShmClient {
    const client = new ShmClient(ShmEndpoint.connect(name), options);
    client.#run();
    return client;
  }

  /** Resolves once the connection ended (either side closed, or the node died). */
  get closed(): Promise<void> {
    return this.#closed.promise;
  }

  /** Queues one encoded frame; frames sent in one run go out in one batch. */
  send(frame: Uint8Array): void {
    if (this.#ended || this.#stopping) throw new Error("shm client closed");
    this.#outbox.push(frame);
  }

  /** Bytes queued locally because the ring is full. */
  bufferedAmount(): number {
    return this.#outbox.bytes;
  }

  /** Native counters of this connection. */
  stats(): ShmStats {
    return this.#ep.stats();
  }

  async #run(): Promise<void> {
    try {
      await this.#loop();
    } catch (err) {
      this.error = err;
    } finally {
      this.#end();
    }
  }

  async #loop(): Promise<void> {
    let lastActive = performance.now();
    let lastLiveness = lastActive;
    while (!this.#stopping && !this.#ended) {
      const now = performance.now();
      const n = this.#ep.receive((f) => this.onFrame(f.slice()));
      if (n < 0) break;
      if (n > 0) lastActive = now;
      const backlog = this.#outbox.bytes > 0 && this.#outbox.flush();
      if (now - lastLiveness > 500) {
        lastLiveness = now;
        if (!this.#ep.alive()) break;
      }
      if (n > 0 || now - lastActive < this.#hotWindowMs) {
        await new Promise<void>((r) => setImmediate(r));
      } else if (backlog) {
        await new Promise<void>((r) => setTimeout(r, 1));
      } else if (await this.#ep.wait(this.#idleWaitUs) < 0 && !this.#stopping) {
        // Closed by the node: drain what it sent before closing, then end.
        while (this.#ep.receive((f) => this.onFrame(f.slice())) > 0) { /* drain */ }
        break;
      }
    }
  }

  #end(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#ep.close();
    this.#outbox.clear();
    this.#closed.resolve();
  }

  /** Flushes what fits, closes the connection and waits for the receive loop to stop. */
  async close(): Promise<void> {
    if (!this.#ended) this.#outbox.flush();
    this.#stopping = true;
    await this.#closed.promise;
  }
}
