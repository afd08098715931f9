/**
 * Shared-memory connections through the core library: a `ShmListener` (server side) and
 * `ShmEndpoint`s (either side) with batched send and receive. Every hot-path call is a
 * synchronous FFI call on cached pointers and preallocated buffers.
 * @module
 */
import { BusError } from "../protocol/mod.ts";
import { cString, lastNativeError, loadNative, NativeError, type NativeLib } from "./native_lib.ts";
import { BATCH_BYTES, forEachFrame, PackedBatch } from "./frame_batch.ts";

/** Counters of one shm endpoint, read from the native side. */
export interface ShmStats {
  /** Data bytes per ring. */
  capacity: number;
  /** Bytes queued in the outgoing ring (not yet read by the peer). */
  txFill: number;
  /** Bytes queued in the incoming ring (not yet read by us). */
  rxFill: number;
  /** Highest outgoing fill seen (upper bound). */
  txPeakFill: number;
  /** Frames written to the outgoing ring. */
  framesSent: number;
  /** Payload bytes written. */
  bytesSent: number;
  /** Frames read from the incoming ring. */
  framesReceived: number;
  /** Payload bytes read. */
  bytesReceived: number;
  /** Sends that found the outgoing ring full. */
  overruns: number;
  /** Send calls that moved frames. */
  sendBatches: number;
  /** Receive calls that returned frames. */
  recvBatches: number;
  /** True once either side closed. */
  peerClosed: boolean;
}

/** Thrown when a native call refuses (closed connection, oversized frame, OS error). */
export class NativeTransportError extends BusError {
  /** The `ARQON_E_*` code (`NativeError`): negative, e.g. `NativeError.CLOSED`. */
  readonly nativeCode: number;
  /** Wraps a native error code with a message. */
  constructor(nativeCode: number, message: string) {
    // A closed peer is the common case and says the carrier is gone, not a bug.
    super(nativeCode === NativeError.CLOSED ? "SHUTTING_DOWN" : "INTERNAL", message);
    this.name = "NativeTransportError";
    this.nativeCode = nativeCode;
  }
}

/** One side of a shm connection. Not safe to share between workers. */
export class ShmEndpoint {
  #lib: NativeLib;
  #ptr: Deno.PointerObject | null;
  #rx: Uint8Array<ArrayBuffer>;
  #tx = new PackedBatch();
  #stats = new BigUint64Array(12);
  /** Largest frame the rings accept. */
  readonly maxFrame: number;
  /** Process id of the peer. */
  readonly peerPid: number;
  /** Called after each FFI call that moved frames (telemetry of batch sizes). */
  onBatch?: (direction: "tx" | "rx", frames: number) => void;

  /** Wraps an endpoint pointer returned by `arqon_shm_connect` or `arqon_shm_accept`. */
  constructor(lib: NativeLib, ptr: Deno.PointerObject) {
    this.#lib = lib;
    this.#ptr = ptr;
    this.maxFrame = lib.arqon_shm_max_frame(ptr);
    this.peerPid = lib.arqon_shm_peer_pid(ptr);
    this.#rx = new Uint8Array(Math.max(BATCH_BYTES, this.maxFrame + 4));
  }

  /** Connects to the listener `name` (client side). */
  static connect(name: string): ShmEndpoint {
    const lib = loadNative();
    const ptr = lib.arqon_shm_connect(cString(name));
    if (!ptr) throw new Error(`shm connect ${name}: ${lastNativeError()}`);
    return new ShmEndpoint(lib, ptr);
  }

  /** True until `close()`. */
  get open(): boolean {
    return this.#ptr !== null;
  }

  #handle(): Deno.PointerObject {
    if (!this.#ptr) throw new NativeTransportError(NativeError.CLOSED, "shm endpoint closed");
    return this.#ptr;
  }

  /** Bytes packed locally and not yet in the ring. */
  get pendingBytes(): number {
    return this.#tx.length;
  }

  /**
   * Queues one frame in the local batch, flushing first when the batch is full. Returns
   * false when the frame could not be queued because the ring is full (call `flush` later).
   */
  enqueue(frame: Uint8Array): boolean {
    if (frame.length > this.maxFrame) {
      throw new NativeTransportError(
        NativeError.TOO_LARGE,
        `frame of ${frame.length} bytes exceeds the ring's ${this.maxFrame}`,
      );
    }
    if (this.#tx.add(frame)) return true;
    if (this.flush() > 0) return false;
    if (this.#tx.add(frame)) return true;
    return this.#sendLarge(frame);
  }

  /** A frame bigger than the batch buffer goes out alone, from a buffer of its own size. */
  #sendLarge(frame: Uint8Array): boolean {
    const big = new PackedBatch(frame.length + 4);
    big.add(frame);
    const bytes = big.bytes();
    const n = this.#lib.arqon_shm_send(this.#handle(), bytes, bytes.length);
    if (n < 0) throw new NativeTransportError(n, `shm send failed (${n})`);
    if (n > 0) this.onBatch?.("tx", 1);
    return n > 0;
  }

  /**
   * Writes the local batch into the ring (one FFI call); returns the bytes still pending
   * because the ring is full. Throws `NativeTransportError` once the connection closed.
   */
  flush(): number {
    if (this.#tx.length === 0) return 0;
    const batch = this.#tx.bytes();
    const n = this.#lib.arqon_shm_send(this.#handle(), batch, batch.length);
    if (n < 0) throw new NativeTransportError(n, `shm send failed (${n})`);
    const frames = this.#tx.consume(n);
    if (frames > 0) this.onBatch?.("tx", frames);
    return this.#tx.length;
  }

  /** Sends an already packed batch directly; returns bytes consumed (whole frames). */
  sendPacked(batch: Uint8Array<ArrayBuffer>, length = batch.length): number {
    const n = this.#lib.arqon_shm_send(this.#handle(), batch, length);
    if (n < 0) throw new NativeTransportError(n, `shm send failed (${n})`);
    return n;
  }

  /**
   * Reads waiting frames (one FFI call of up to ~64 KB) and calls `onFrame` with a view
   * valid only during the call. Returns frames read, 0 when none, -1 once closed and drained.
   */
  receive(onFrame: (frame: Uint8Array<ArrayBuffer>) => void): number {
    const n = this.#lib.arqon_shm_recv(this.#handle(), this.#rx, this.#rx.length);
    if (n === NativeError.CLOSED) return -1;
    if (n < 0) throw new NativeTransportError(n, `shm receive failed (${n})`);
    if (n === 0) return 0;
    const frames = forEachFrame(this.#rx, n, onFrame);
    this.onBatch?.("rx", frames);
    return frames;
  }

  /** Reads one packed batch into the internal buffer; returns its length (-1 closed). */
  receivePacked(): { buffer: Uint8Array<ArrayBuffer>; length: number } {
    const n = this.#lib.arqon_shm_recv(this.#handle(), this.#rx, this.#rx.length);
    if (n < NativeError.CLOSED) throw new NativeTransportError(n, `shm receive failed (${n})`);
    return { buffer: this.#rx, length: n };
  }

  /** Blocks the thread until readable (1), closed (-1) or timeout (0). Not for the node. */
  waitSync(spinUs: number, timeoutUs: number): number {
    return this.#lib.arqon_shm_wait(this.#handle(), spinUs, timeoutUs);
  }

  /** Waits on a worker thread (idle path only): readable (1), closed (-1), timeout (0). */
  wait(timeoutUs: number, spinUs = 0): Promise<number> {
    return this.#lib.arqon_shm_wait_async(this.#handle(), spinUs, timeoutUs);
  }

  /** False once the connection closed or the peer process is gone (one system call). */
  alive(): boolean {
    return this.#ptr !== null && this.#lib.arqon_shm_alive(this.#ptr) === 1;
  }

  /** Current counters. */
  stats(): ShmStats {
    const s = this.#stats;
    this.#lib.arqon_shm_stats(this.#handle(), new Uint8Array(s.buffer), s.length);
    const n = (i: number) => Number(s[i]);
    return {
      capacity: n(0),
      txFill: n(1),
      rxFill: n(2),
      txPeakFill: n(3),
      framesSent: n(4),
      bytesSent: n(5),
      framesReceived: n(6),
      bytesReceived: n(7),
      overruns: n(8),
      sendBatches: n(9),
      recvBatches: n(10),
      peerClosed: s[11] !== 0n,
    };
  }

  /** Closes the connection (the peer drains, then sees it closed) and frees the handle. */
  close(): void {
    if (!this.#ptr) return;
    this.#lib.arqon_shm_close(this.#ptr);
    this.#ptr = null;
  }
}

/** Options of a shm listener. */
export interface ShmListenerOptions {
  /** Connections the file holds (1-63). Default 8. */
  slots?: number;
  /** Data bytes per ring, rounded up to a power of two. Default 1 MiB. */
  ringBytes?: number;
}

/** The server side of a shm name: `/dev/shm/<name>`. */
export class ShmListener {
  #lib: NativeLib;
  #ptr: Deno.PointerObject | null;
  /** The shm name. */
  readonly name: string;

  /** Creates the listener; throws if a live process owns the name. */
  constructor(name: string, options: ShmListenerOptions = {}) {
    this.#lib = loadNative();
    this.name = name;
    const ptr = this.#lib.arqon_shm_listen(
      cString(name),
      options.slots ?? 8,
      options.ringBytes ?? 1 << 20,
    );
    if (!ptr) throw new Error(`shm listen ${name}: ${lastNativeError()}`);
    this.#ptr = ptr;
  }

  #handle(): Deno.PointerObject {
    if (!this.#ptr) throw new Error("shm listener closed");
    return this.#ptr;
  }

  /** The next connection waiting to be accepted, or null. */
  accept(): ShmEndpoint | null {
    const ep = this.#lib.arqon_shm_accept(this.#handle());
    return ep ? new ShmEndpoint(this.#lib, ep) : null;
  }

  /** Waits on a worker thread until a connection waits, one has input or closed (1), or timeout (0). */
  wait(timeoutUs: number, spinUs = 0): Promise<number> {
    return this.#lib.arqon_shm_listener_wait_async(this.#handle(), spinUs, timeoutUs);
  }

  /** Closes the listener and removes the name; accepted endpoints stay open. */
  close(): void {
    if (!this.#ptr) return;
    this.#lib.arqon_shm_listener_close(this.#ptr);
    this.#ptr = null;
  }
}
