/**
 * Per-client rate limiters for HTTP, where a client is not a connection: each request
 * comes on whatever connection, so the `--rate-pulses`/`--rate-bytes` buckets belong to the
 * client's identity (token subject, DID, or address). The table is bounded two ways:
 *
 * - Entries idle for `idleMs` expire. Token buckets refill to full within their burst
 *   time (one second at the node's settings), so an entry idle that long holds no debt
 *   and dropping it forgives nothing.
 * - At most `maxClients` entries: a new client beyond evicts the least recently used one
 *   (which starts afresh if it comes back), and `onEvict` counts it.
 *
 * The map is kept in order of last use (a hit moves its entry to the end), so expiry
 * walks only the expired prefix and eviction takes the first entry: O(1) per request.
 * @module
 */

/** Bounds of a {@linkcode ClientRateTable}. */
export interface ClientRateTableOptions {
  /** Most clients tracked at once; 0: no cap (idle expiry still applies). */
  readonly maxClients: number;
  /** Milliseconds without a request after which a client's entry expires; default 10 s. */
  readonly idleMs?: number;
  /** A monotonic clock in milliseconds; default `performance.now`. */
  readonly clock?: () => number;
  /** Called with the number of tracked clients whenever it changes (a gauge). */
  readonly onSize?: (size: number) => void;
  /** Called for each client evicted because the table was full (a counter). */
  readonly onEvict?: () => void;
}

/** Default idle time after which a client's limiter is forgotten. */
export const CLIENT_IDLE_MS = 10_000;

interface Entry<T> {
  readonly limiter: T;
  lastMs: number;
}

/** One limiter per client identity, bounded by idle expiry and a cap. */
export class ClientRateTable<T> {
  readonly #create: () => T;
  readonly #max: number;
  readonly #idleMs: number;
  readonly #clock: () => number;
  readonly #onSize?: (size: number) => void;
  readonly #onEvict?: () => void;
  readonly #entries = new Map<string, Entry<T>>();

  /** `create` makes the limiter of a client seen for the first time (or again after expiry). */
  constructor(create: () => T, options: ClientRateTableOptions) {
    this.#create = create;
    this.#max = Math.max(0, Math.floor(options.maxClients));
    this.#idleMs = options.idleMs ?? CLIENT_IDLE_MS;
    this.#clock = options.clock ?? performance.now.bind(performance);
    this.#onSize = options.onSize;
    this.#onEvict = options.onEvict;
  }

  /** Clients tracked now (expired ones go at the next lookup). */
  get size(): number {
    return this.#entries.size;
  }

  /** The limiter of `client`, created on first sight; marks the client as just seen. */
  limiter(client: string): T {
    const now = this.#clock();
    const before = this.#entries.size;
    this.#expire(now);
    let entry = this.#entries.get(client);
    if (entry) {
      this.#entries.delete(client);
      entry.lastMs = now;
    } else {
      if (this.#max > 0 && this.#entries.size >= this.#max) {
        const oldest = this.#entries.keys().next();
        if (!oldest.done) {
          this.#entries.delete(oldest.value);
          this.#onEvict?.();
        }
      }
      entry = { limiter: this.#create(), lastMs: now };
    }
    this.#entries.set(client, entry);
    if (this.#entries.size !== before) this.#onSize?.(this.#entries.size);
    return entry.limiter;
  }

  #expire(now: number): void {
    for (const [client, entry] of this.#entries) {
      if (now - entry.lastMs < this.#idleMs) break;
      this.#entries.delete(client);
    }
  }
}
