/**
 * DPDK through `libarqon_dpdk.so` (built where Debian's `dpdk-dev` exists): EAL started on
 * a native sidecar thread, ports driven with the same packed batches as shm and UDP.
 * Tests and benchmarks run it without hugepages or PCI devices:
 * `--no-huge --no-pci --no-shconf -m 256 --file-prefix=<unique> --vdev=net_ring0`.
 * @module
 */
import { cString, nativeLibraryPath } from "./native_lib.ts";
import { BATCH_BYTES, forEachFrame, PackedBatch } from "./frame_batch.ts";
import { NativeTransportError } from "./shm.ts";

const DPDK_SYMBOLS = {
  arqon_dpdk_last_error: { parameters: ["buffer", "u32"], result: "u32" },
  arqon_dpdk_start: { parameters: ["buffer"], result: "pointer" },
  arqon_dpdk_stop: { parameters: ["pointer"], result: "void" },
  arqon_dpdk_port_open: { parameters: ["buffer", "u32"], result: "pointer" },
  arqon_dpdk_link_up: { parameters: ["pointer"], result: "i32" },
  arqon_dpdk_send: { parameters: ["pointer", "buffer", "u32"], result: "i32" },
  arqon_dpdk_recv: { parameters: ["pointer", "buffer", "u32"], result: "i32" },
  arqon_dpdk_stats: { parameters: ["pointer", "buffer", "u32"], result: "u32" },
  arqon_dpdk_port_close: { parameters: ["pointer"], result: "void" },
} as const satisfies Deno.ForeignLibraryInterface;

type DpdkLib = Deno.DynamicLibrary<typeof DPDK_SYMBOLS>["symbols"];
let lib: DpdkLib | undefined;

/** True when `libarqon_dpdk.so` was built (DPDK present at build time). */
export function dpdkAvailable(): boolean {
  try {
    nativeLibraryPath("arqon_dpdk");
    return true;
  } catch {
    return false;
  }
}

function load(): DpdkLib {
  lib ??= Deno.dlopen(nativeLibraryPath("arqon_dpdk"), DPDK_SYMBOLS).symbols;
  return lib;
}

function lastError(): string {
  const buf = new Uint8Array(512);
  const n = load().arqon_dpdk_last_error(buf, buf.length);
  return new TextDecoder().decode(buf.subarray(0, Math.min(n, buf.length)));
}

/** EAL arguments for a test run without hugepages or PCI access. */
export function testEalArgs(prefix: string, vdevs: string[]): string[] {
  return [
    "--no-huge",
    "--no-pci",
    "--no-shconf",
    "--no-telemetry",
    "-m",
    "256",
    "-l",
    "0",
    "--log-level=error",
    `--file-prefix=${prefix}`,
    ...vdevs.map((v) => `--vdev=${v}`),
  ];
}

/** The running DPDK environment (once per process). */
export class DpdkEal {
  #ptr: Deno.PointerObject | null;

  private constructor(ptr: Deno.PointerObject) {
    this.#ptr = ptr;
  }

  /** Starts EAL with `args` (no program name) on a sidecar thread. */
  static start(args: string[]): DpdkEal {
    const ptr = load().arqon_dpdk_start(cString(args.join(" ")));
    if (!ptr) throw new Error(`DPDK EAL did not start: ${lastError()}`);
    return new DpdkEal(ptr);
  }

  /** Stops EAL; close every port first. */
  stop(): void {
    if (!this.#ptr) return;
    load().arqon_dpdk_stop(this.#ptr);
    this.#ptr = null;
  }
}

/** Counters of one DPDK port. */
export interface DpdkStats {
  /** Packets sent. */
  framesSent: number;
  /** Payload bytes sent. */
  bytesSent: number;
  /** Packets received. */
  framesReceived: number;
  /** Payload bytes received. */
  bytesReceived: number;
  /** Sequence gaps. */
  lost: number;
  /** Times the TX queue or mbuf pool was full. */
  overruns: number;
  /** TX bursts that moved packets. */
  sendBatches: number;
  /** RX bursts that returned packets. */
  recvBatches: number;
}

/** One started DPDK port (one RX and one TX queue). */
export class DpdkPort {
  #lib: DpdkLib;
  #ptr: Deno.PointerObject | null;
  #tx = new PackedBatch();
  #rx = new Uint8Array(BATCH_BYTES * 3);
  #stats = new BigUint64Array(8);
  /** Called after each burst that moved frames (telemetry of batch sizes). */
  onBatch?: (direction: "tx" | "rx", frames: number) => void;

  /** Starts the port `name` (e.g. `net_ring0`) with `descriptors` per queue. */
  constructor(name: string, descriptors = 1024) {
    this.#lib = load();
    const ptr = this.#lib.arqon_dpdk_port_open(cString(name), descriptors);
    if (!ptr) throw new Error(`DPDK port ${name}: ${lastError()}`);
    this.#ptr = ptr;
  }

  #handle(): Deno.PointerObject {
    if (!this.#ptr) throw new Error("DPDK port closed");
    return this.#ptr;
  }

  /** True once the link is up (memif: the peer connected). */
  linkUp(): boolean {
    return this.#lib.arqon_dpdk_link_up(this.#handle()) === 1;
  }

  /** Bytes packed locally and not yet sent. */
  get pendingBytes(): number {
    return this.#tx.length;
  }

  /** Queues one frame; false when it cannot be queued now. */
  enqueue(frame: Uint8Array): boolean {
    if (this.#tx.add(frame)) return true;
    this.flush();
    return this.#tx.add(frame);
  }

  /** Sends what is queued in bursts of 64; returns bytes still pending. */
  flush(): number {
    if (this.#tx.length === 0) return 0;
    const batch = this.#tx.bytes();
    const n = this.#lib.arqon_dpdk_send(this.#handle(), batch, batch.length);
    if (n < 0) throw new NativeTransportError(n, `DPDK send: ${lastError()}`);
    const frames = this.#tx.consume(n);
    if (frames > 0) this.onBatch?.("tx", frames);
    return this.#tx.length;
  }

  /** Receives one burst; `onFrame` gets views valid during the call. */
  receive(onFrame: (frame: Uint8Array<ArrayBuffer>) => void): number {
    const n = this.#lib.arqon_dpdk_recv(this.#handle(), this.#rx, this.#rx.length);
    if (n < 0) throw new NativeTransportError(n, `DPDK receive: ${lastError()}`);
    if (n === 0) return 0;
    const frames = forEachFrame(this.#rx, n, onFrame);
    this.onBatch?.("rx", frames);
    return frames;
  }

  /** Current counters. */
  stats(): DpdkStats {
    const s = this.#stats;
    this.#lib.arqon_dpdk_stats(this.#handle(), new Uint8Array(s.buffer), s.length);
    const n = (i: number) => Number(s[i]);
    return {
      framesSent: n(0),
      bytesSent: n(1),
      framesReceived: n(2),
      bytesReceived: n(3),
      lost: n(4),
      overruns: n(5),
      sendBatches: n(6),
      recvBatches: n(7),
    };
  }

  /** Stops and closes the port. */
  close(): void {
    if (!this.#ptr) return;
    this.#lib.arqon_dpdk_port_close(this.#ptr);
    this.#ptr = null;
  }
}
