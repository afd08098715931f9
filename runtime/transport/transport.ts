/**
 * The contract between the node and whatever carries frames to a client: a WebSocket,
 * a shared-memory ring, a UDP peer. The node's session logic is written once against it.
 * @module
 */

/** A message a transport can have written straight into its own buffer (no copy of its own). */
export interface EncodedMessage {
  /** Bytes of the message. */
  readonly encodedLength: number;
  /** Writes the message at `at` in `buf` (at least `encodedLength` bytes from there). */
  finishInto(buf: Uint8Array, at: number): void;
}

/** One client connection as the node sees it. Implementations must never block. */
export interface Transport {
  /** Short name of the carrier, used as a metric label: `ws`, `shm`, `udp`, ... */
  readonly kind: string;
  /** Human-readable peer address, for logs. */
  readonly remote: string;
  /** Sends one encoded frame: bytes for `arqon.v1.proto`, a string for `arqon.v1.json`. */
  send(frame: Uint8Array | string): void;
  /**
   * Sends one binary message that `message` writes straight into the transport's own
   * write buffer, sparing a copy. Returns false, having asked nothing of `message`, when
   * the transport refused it (closing, or over its bound): the caller drops it. Absent on
   * carriers without such a buffer: they get `send`.
   */
  sendEncoded?(message: EncodedMessage): boolean;
  /**
   * Bytes accepted by `send` but not yet handed to the operating system or the ring.
   * The node stops draining a subscriber's queue while this is above its high-water mark,
   * which is how backpressure reaches the subscription queues.
   */
  bufferedAmount(): number;
  /** Closes the connection; `code` follows WebSocket close codes. */
  close(code?: number, reason?: string): void;
  /**
   * Resolves once at most `bytes` are buffered (or the connection is gone), for
   * transports that know when they drain; others are polled with `bufferedAmount`.
   */
  drained?(bytes: number): Promise<void>;
  /**
   * True when the transport reads a connection only once its last message was handled,
   * so a client sending faster than the node handles waits in TCP backpressure. The node
   * queues received work per reality only for transports that cannot do this.
   */
  readonly readsOnDemand?: boolean;
}

/** What a transport calls on the node side for each connection it carries. */
export interface TransportSession {
  /**
   * One received frame, undecoded. A promise asks a transport that reads on demand to read
   * nothing more until it settles (the frame's work goes on over later turns).
   */
  receive(frame: Uint8Array | string): void | Promise<void>;

  /** The peer went away or the transport failed; the session releases its subscriptions. */
  closed(): void;
}
