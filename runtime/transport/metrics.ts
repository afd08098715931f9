/**
 * Telemetry of the native carriers (Psyne-style): ring fill level, overruns, frames, loss
 * and batch sizes per backend, as Prometheus families on the node's registry. Fill and
 * overruns are read from the native counters at scrape time; batch sizes are observed by
 * the binding per FFI call.
 * @module
 */
import client from "prom-client";

/** What a tracked carrier reports at scrape time. */
export interface NativeGaugeSource {
  /** Backend label: `shm`, `udp`, `dpdk`, `rdma`. */
  readonly backend: string;
  /** Bytes queued in the outgoing and incoming rings (0 where there is no ring). */
  fill(): { tx: number; rx: number; capacity: number };
  /** Cumulative back-pressure events (ring or socket buffer full). */
  overruns(): number;
  /** Cumulative datagrams lost (sequence gaps); 0 for lossless carriers. */
  lost(): number;
}

const BATCH_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024];

/** The native carriers' metric families; one per node registry. */
export class NativeMetrics {
  readonly #sources = new Set<NativeGaugeSource>();
  /** Overruns and losses of sources already closed, so counters never go down. */
  readonly #retired = new Map<string, { overruns: number; lost: number }>();
  /** Frames moved, per backend and direction (`tx`, `rx`). */
  readonly frames: client.Counter<"backend" | "direction">;
  /** Frames per FFI send/receive call, per backend and direction. */
  readonly batchFrames: client.Histogram<"backend" | "direction">;

  /** Registers the families on `registry` (the node's `/metrics` registry). */
  constructor(registry: client.Registry) {
    const registers = [registry];
    const sources = this.#sources;
    const retired = this.#retired;
    this.frames = new client.Counter({
      name: "arqon_native_frames_total",
      help: "Frames moved by native carriers.",
      labelNames: ["backend", "direction"],
      registers,
    });
    this.batchFrames = new client.Histogram({
      name: "arqon_native_batch_frames",
      help: "Frames per native send/receive call.",
      labelNames: ["backend", "direction"],
      buckets: BATCH_BUCKETS,
      registers,
    });
    new client.Gauge({
      name: "arqon_native_ring_fill_bytes",
      help: "Bytes queued in native rings, summed over connections.",
      labelNames: ["backend", "direction"],
      registers,
      collect() {
        this.reset();
        for (const s of sources) {
          const f = s.fill();
          this.inc({ backend: s.backend, direction: "tx" }, f.tx);
          this.inc({ backend: s.backend, direction: "rx" }, f.rx);
        }
      },
    });
    new client.Gauge({
      name: "arqon_native_ring_fill_ratio",
      help: "Fullest ring's fill level as a fraction of its capacity.",
      labelNames: ["backend"],
      registers,
      collect() {
        this.reset();
        const max = new Map<string, number>();
        for (const s of sources) {
          const f = s.fill();
          const r = f.capacity ? Math.max(f.tx, f.rx) / f.capacity : 0;
          max.set(s.backend, Math.max(max.get(s.backend) ?? 0, r));
        }
        for (const [backend, r] of max) this.set({ backend }, r);
      },
    });
    const cumulative = (pick: (s: NativeGaugeSource) => number, key: "overruns" | "lost") =>
      function (this: client.Counter<"backend">) {
        const totals = new Map<string, number>();
        for (const [backend, r] of retired) totals.set(backend, r[key]);
        for (const s of sources) totals.set(s.backend, (totals.get(s.backend) ?? 0) + pick(s));
        this.reset();
        for (const [backend, v] of totals) this.inc({ backend }, v);
      };
    new client.Counter({
      name: "arqon_native_overruns_total",
      help: "Sends that found a native ring or socket buffer full.",
      labelNames: ["backend"],
      registers,
      collect: cumulative((s) => s.overruns(), "overruns"),
    });
    new client.Counter({
      name: "arqon_native_lost_total",
      help: "Datagrams lost (sequence gaps) on native carriers.",
      labelNames: ["backend"],
      registers,
      collect: cumulative((s) => s.lost(), "lost"),
    });
  }

  /** Starts reporting a carrier's gauges. */
  track(source: NativeGaugeSource): void {
    this.#sources.add(source);
  }

  /** Stops reporting a carrier, keeping its cumulative counts. */
  untrack(source: NativeGaugeSource): void {
    if (!this.#sources.delete(source)) return;
    const r = this.#retired.get(source.backend) ?? { overruns: 0, lost: 0 };
    r.overruns += source.overruns();
    r.lost += source.lost();
    this.#retired.set(source.backend, r);
  }

  /** Records one FFI call that moved `frames` frames. */
  batch(backend: string, direction: "tx" | "rx", frames: number): void {
    if (frames <= 0) return;
    this.frames.labels(backend, direction).inc(frames);
    this.batchFrames.labels(backend, direction).observe(frames);
  }
}
