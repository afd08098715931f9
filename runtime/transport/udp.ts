/**
 * UDP through the core library: frames go out as datagrams in `sendmmsg` batches of up to
 * 64, each with a sequence number the receiver uses to count loss and reordering.
 * @module
 */
import { cString, lastNativeError, loadNative, NativeError, type NativeLib } from "./native_lib.ts";
import { BATCH_BYTES, forEachFrame, PackedBatch } from "./frame_batch.ts";
import { NativeTransportError } from "./shm.ts";

/** Counters of one UDP endpoint. */
export interface UdpStats {
  /** Datagrams accepted by the kernel. */
  framesSent: number;
  /** Payload bytes sent. */
  bytesSent: number;
  /** Datagrams received. */
  framesReceived: number;
  /** Payload bytes received. */
  bytesReceived: number;
  /** Sequence numbers skipped. */
  lost: number;
  /** Datagrams that arrived after a later one. */
  reordered: number;
  /** Datagrams dropped as malformed. */
  malformed: number;
  /** `sendmmsg` calls that moved datagrams. */
  sendBatches: number;
  /** `recvmmsg` calls that returned datagrams. */
  recvBatches: number;
  /** Times the socket buffer was full. */
  overruns: number;
}

/** A non-blocking UDP socket sending to one peer and receiving from any. */
export class UdpEndpoint {
  #lib: NativeLib;
  #ptr: Deno.PointerObject | null;
  #tx = new PackedBatch();
  #rx = new Uint8Array(BATCH_BYTES);
  #stats = new BigUint64Array(10);
  /** Largest payload per datagram. */
  readonly maxFrame: number;
  /** Called after each FFI call that moved frames (telemetry of batch sizes). */
  onBatch?: (direction: "tx" | "rx", frames: number) => void;

  /** Binds `addr` (`ip:port`, port 0 for ephemeral) for frames up to `maxFrame` bytes. */
  constructor(addr = "127.0.0.1:0", maxFrame = 1400) {
    this.#lib = loadNative();
    const ptr = this.#lib.arqon_udp_bind(cString(addr), maxFrame);
    if (!ptr) throw new Error(`udp bind ${addr}: ${lastNativeError()}`);
    this.#ptr = ptr;
    this.maxFrame = maxFrame;
  }

  #handle(): Deno.PointerObject {
    if (!this.#ptr) throw new NativeTransportError(NativeError.CLOSED, "udp endpoint closed");
    return this.#ptr;
  }

  /** The bound local port. */
  get port(): number {
    return this.#lib.arqon_udp_port(this.#handle());
  }

  /** Sets the destination of `send`. */
  connect(addr: string): void {
    if (this.#lib.arqon_udp_connect(this.#handle(), cString(addr)) !== 0) {
      throw new Error(`udp connect ${addr}: ${lastNativeError()}`);
    }
  }

  /** Bytes packed locally and not yet sent. */
  get pendingBytes(): number {
    return this.#tx.length;
  }

  /** Queues one frame; false when it cannot be queued now (socket buffer full). */
  enqueue(frame: Uint8Array): boolean {
    if (frame.length > this.maxFrame) {
      throw new NativeTransportError(NativeError.TOO_LARGE, `datagram of ${frame.length} bytes`);
    }
    if (this.#tx.add(frame)) return true;
    this.flush();
    return this.#tx.add(frame);
  }

  /** Sends the queued frames; returns bytes still pending (socket buffer full). */
  flush(): number {
    if (this.#tx.length === 0) return 0;
    const batch = this.#tx.bytes();
    const n = this.#lib.arqon_udp_send(this.#handle(), batch, batch.length);
    if (n < 0) throw new NativeTransportError(n, `udp send failed: ${lastNativeError()}`);
    const frames = this.#tx.consume(n);
    if (frames > 0) this.onBatch?.("tx", frames);
    return this.#tx.length;
  }

  /** Reads waiting datagrams (one `recvmmsg`); `onFrame` gets views valid during the call. */
  receive(onFrame: (frame: Uint8Array<ArrayBuffer>) => void): number {
    const n = this.#lib.arqon_udp_recv(this.#handle(), this.#rx, this.#rx.length);
    if (n < 0) throw new NativeTransportError(n, `udp receive failed: ${lastNativeError()}`);
    if (n === 0) return 0;
    const frames = forEachFrame(this.#rx, n, onFrame);
    this.onBatch?.("rx", frames);
    return frames;
  }

  /** Waits on a worker thread until a datagram is readable (idle path only). */
  async wait(timeoutMs: number): Promise<boolean> {
    return await this.#lib.arqon_udp_wait_async(this.#handle(), timeoutMs) === 1;
  }

  /** Current counters. */
  stats(): UdpStats {
    const s = this.#stats;
    this.#lib.arqon_udp_stats(this.#handle(), new Uint8Array(s.buffer), s.length);
    const n = (i: number) => Number(s[i]);
    return {
      framesSent: n(0),
      bytesSent: n(1),
      framesReceived: n(2),
      bytesReceived: n(3),
      lost: n(4),
      reordered: n(5),
      malformed: n(6),
      sendBatches: n(7),
      recvBatches: n(8),
      overruns: n(9),
    };
  }

  /** Closes the socket. */
  close(): void {
    if (!this.#ptr) return;
    this.#lib.arqon_udp_close(this.#ptr);
    this.#ptr = null;
  }
}
