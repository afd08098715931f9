/**
 * The node's connection cap. Every client connection holds file descriptors (a
 * WebSocket one, an HTTP connection piped to `Deno.serve` three: its own and a loopback
 * pair; two more each behind the TLS terminator), and a node out of descriptors can no
 * longer answer anyone, not even with an error. The gate admits a connection while both
 * the connection count and the descriptors stay under their bounds; beyond them the
 * front door answers 503 (HTTP) or closes 1013 (WebSocket) instead of failing to accept.
 * @module
 */

/** Why a connection was turned away: which bound it hit. */
export type ConnectionRefusal = "max_connections" | "open_files";

/** The bounds of a {@linkcode ConnectionGate}. */
export interface ConnectionGateOptions {
  /** Client connections held at most. */
  readonly maxConnections: number;
  /** File descriptors client connections may hold together. */
  readonly maxDescriptors: number;
}

/**
 * Counts connections and the descriptors they hold.
 *
 * @example
 * ```ts
 * import { ConnectionGate } from "./connection_limit.ts";
 *
 * const gate = new ConnectionGate({ maxConnections: 1, maxDescriptors: 100 });
 * gate.enter(1); // undefined: admitted
 * gate.enter(1); // "max_connections"
 * gate.leave(1);
 * ```
 */
export class ConnectionGate {
  readonly #options: ConnectionGateOptions;
  #open = 0;
  #descriptors = 0;

  /** Creates a gate with its bounds. */
  constructor(options: ConnectionGateOptions) {
    this.#options = options;
  }

  /** Client connections held. */
  get open(): number {
    return this.#open;
  }

  /** Descriptors held by client connections. */
  get descriptors(): number {
    return this.#descriptors;
  }

  /** The connection cap. */
  get maxConnections(): number {
    return this.#options.maxConnections;
  }

  /** Admits a new connection holding `descriptors`, or says which bound it hits. */
  enter(descriptors: number): ConnectionRefusal | undefined {
    if (this.#open >= this.#options.maxConnections) return "max_connections";
    if (this.#descriptors + descriptors > this.#options.maxDescriptors) return "open_files";
    this.#open++;
    this.#descriptors += descriptors;
    return undefined;
  }

  /** Lets an admitted connection hold `descriptors` more; false when that is over the bound. */
  grow(descriptors: number): boolean {
    if (this.#descriptors + descriptors > this.#options.maxDescriptors) return false;
    this.#descriptors += descriptors;
    return true;
  }

  /** A connection holding `descriptors` ended. */
  leave(descriptors: number): void {
    this.#open--;
    this.#descriptors -= descriptors;
  }
}
