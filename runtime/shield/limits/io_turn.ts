/**
 * Ends an event-loop turn through real I/O. Deno runs JavaScript on a single-threaded
 * tokio runtime that checks sockets for readiness (epoll) only when the loop runs out of
 * ready work, or every few dozen wake-ups otherwise. A node that always has work queued
 * for the next turn (`setImmediate`) therefore leaves other sockets unread for tens of
 * milliseconds (measured: a quiet connection's round trip went from 0.2 ms to 30 ms
 * beside a flood), and a zero-delay timer sleeps a millisecond. A read pending on a
 * loopback socket pair that we then write one byte to completes only through the
 * readiness check, in microseconds, and every other socket is looked at on the way.
 * @module
 */

/** A loopback socket pair that turns callbacks into readiness checks; lives with its node. */
export class IoTurn {
  readonly #reader: Deno.Conn;
  readonly #writer: Deno.Conn;
  readonly #buf = new Uint8Array(64);
  readonly #byte = new Uint8Array([1]);
  #waiting: (() => void)[] = [];
  #pending = false;
  #closed = false;

  private constructor(reader: Deno.Conn, writer: Deno.Conn) {
    this.#reader = reader;
    this.#writer = writer;
  }

  /** Opens the socket pair on loopback. */
  static async open(): Promise<IoTurn> {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    try {
      const port = (listener.addr as Deno.NetAddr).port;
      const [writer, reader] = await Promise.all([
        Deno.connect({ hostname: "127.0.0.1", port }),
        listener.accept(),
      ]);
      writer.setNoDelay(true);
      return new IoTurn(reader, writer);
    } finally {
      listener.close();
    }
  }

  /** Resolves once the runtime has checked every socket for readiness. */
  next(): Promise<void> {
    return new Promise((resolve) => this.schedule(resolve));
  }

  /** Runs `callback` once the runtime has checked every socket for readiness. */
  schedule(callback: () => void): void {
    if (this.#closed) return void setTimeout(callback, 0);
    this.#waiting.push(callback);
    if (this.#pending) return;
    this.#pending = true;
    // The read must be pending before the byte is written, or it completes at once.
    const reading = this.#reader.read(this.#buf);
    this.#writer.write(this.#byte).catch(() => {});
    reading.then(this.#fire, this.#fire);
  }

  readonly #fire = (): void => {
    this.#pending = false;
    const waiting = this.#waiting;
    this.#waiting = [];
    for (const callback of waiting) callback();
  };

  /** Closes the pair; later callbacks fall back to timers. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const conn of [this.#reader, this.#writer]) {
      try {
        conn.close();
      } catch { /* already closed */ }
    }
  }
}
