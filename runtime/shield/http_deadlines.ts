/**
 * Deadlines of piped HTTP connections: a request head must arrive within the header
 * timeout, a body within the body timeout once its head arrived, and a keep-alive
 * connection with no request or response in progress is closed after the idle timeout.
 * One sweeper per front door checks every watched connection a few times per timeout
 * instead of a timer per connection.
 * @module
 */
import type { RequestFraming } from "./http_framing.ts";

/** The deadlines, in milliseconds (0: none). */
export interface HttpDeadlineOptions {
  /**
   * Time to send a whole request head.
   * @default {10000}
   */
  readonly headerTimeoutMs: number;
  /**
   * Time to send a whole request body once its head arrived.
   * @default {60000}
   */
  readonly bodyTimeoutMs: number;
  /**
   * Time a connection may stay with no request or response in progress.
   * @default {60000}
   */
  readonly idleTimeoutMs: number;
}

/** Which deadline a connection missed. */
export type MissedDeadline = "header" | "body" | "idle";

/** The deadline state of one piped connection. */
export class DeadlineWatch {
  readonly framing: RequestFraming;
  /** Closes the connection; `missed` says which deadline it missed. */
  readonly expire: (missed: MissedDeadline) => void;
  #phase: string;
  #phaseSince: number;
  #lastActivity: number;
  /** Requests `Deno.serve` is still answering on this connection. */
  responding = 0;
  /** Requests `Deno.serve` has answered on this connection. */
  answered = 0;
  /** Bytes the server sent to the client so far. */
  toClient = 0;

  /** Watches a connection whose client requests `framing` follows. */
  constructor(framing: RequestFraming, expire: (missed: MissedDeadline) => void) {
    this.framing = framing;
    this.expire = expire;
    this.#phase = framing.phase;
    this.#phaseSince = this.#lastActivity = Date.now();
  }

  /** Bytes moved (either way) or a response ended: the connection is not idle. */
  touch(): void {
    this.#lastActivity = Date.now();
    const phase = this.framing.phase;
    if (phase !== this.#phase) {
      this.#phase = phase;
      this.#phaseSince = this.#lastActivity;
    }
  }

  /** The deadline missed at `now`, if any. */
  missed(now: number, options: HttpDeadlineOptions): MissedDeadline | undefined {
    const phase = this.framing.phase;
    if (phase !== this.#phase) {
      this.#phase = phase;
      this.#phaseSince = now;
    }
    const since = now - this.#phaseSince;
    if (phase === "head") {
      return options.headerTimeoutMs > 0 && since > options.headerTimeoutMs ? "header" : undefined;
    }
    if (phase === "body") {
      return options.bodyTimeoutMs > 0 && since > options.bodyTimeoutMs ? "body" : undefined;
    }
    if (this.responding > 0 || options.idleTimeoutMs <= 0) return undefined;
    return now - this.#lastActivity > options.idleTimeoutMs ? "idle" : undefined;
  }
}

/**
 * Checks every watched connection periodically.
 *
 * @example
 * ```ts ignore
 * const sweeper = new DeadlineSweeper({ headerTimeoutMs: 10_000, bodyTimeoutMs: 60_000, idleTimeoutMs: 60_000 });
 * const watch = sweeper.watch(new RequestFraming(), (missed) => conn.close());
 * // ... on every byte: watch.touch(); at the end: sweeper.unwatch(watch)
 * ```
 */
export class DeadlineSweeper {
  readonly #options: HttpDeadlineOptions;
  readonly #watched = new Set<DeadlineWatch>();
  readonly #periodMs: number;
  #timer: ReturnType<typeof setInterval> | undefined;

  /** Creates a sweeper; it runs only while it watches connections. */
  constructor(options: HttpDeadlineOptions) {
    this.#options = options;
    const shortest = Math.min(
      ...[options.headerTimeoutMs, options.bodyTimeoutMs, options.idleTimeoutMs].filter((t) =>
        t > 0
      ),
      4000,
    );
    this.#periodMs = Math.max(50, Math.floor(shortest / 4));
  }

  /** Starts watching a connection. */
  watch(framing: RequestFraming, expire: (missed: MissedDeadline) => void): DeadlineWatch {
    const watch = new DeadlineWatch(framing, expire);
    this.#watched.add(watch);
    if (!this.#timer) {
      this.#timer = setInterval(() => this.#sweep(), this.#periodMs);
      Deno.unrefTimer(this.#timer);
    }
    return watch;
  }

  /** Stops watching a connection (it ended). */
  unwatch(watch: DeadlineWatch): void {
    this.#watched.delete(watch);
    if (this.#watched.size === 0) this.close();
  }

  /** Stops the sweeper. */
  close(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #sweep(): void {
    const now = Date.now();
    for (const watch of this.#watched) {
      const missed = watch.missed(now, this.#options);
      if (!missed) continue;
      this.#watched.delete(watch);
      watch.expire(missed);
    }
    if (this.#watched.size === 0) this.close();
  }
}
