/**
 * The proxy's metrics, served as Prometheus text at `/metrics` on its listen port:
 * requests by direction and outcome, errors by kind, latency, work in flight and the bus
 * connection's state. Its own registry: a proxy is its own process.
 * @module
 */
import client from "prom-client";

/** `bus_to_http`: bus requests served by the upstream; `http_to_bus`: HTTP clients to the bus. */
export type Direction = "bus_to_http" | "http_to_bus";

/** Latency buckets, seconds: sub-millisecond resolution, since the proxy's target is +1 ms. */
const BUCKETS = [
  0.0002,
  0.0005,
  0.001,
  0.002,
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
  10,
];

/** The proxy's metrics. */
export class ProxyMetrics {
  /** The registry `/metrics` renders. */
  readonly registry: client.Registry = new client.Registry();
  /** Requests handled, by direction and outcome (`ok` or an error kind). */
  readonly requests: client.Counter<"direction" | "outcome">;
  /** Errors, by direction and kind. */
  readonly errors: client.Counter<"direction" | "kind">;
  /** Time from receipt to answer, by direction. */
  readonly latency: client.Histogram<"direction">;
  /** Upstream calls running. */
  readonly inFlight: client.Gauge;
  /** Bus requests waiting for an upstream slot. */
  readonly queued: client.Gauge;
  /** 1 while connected to the node. */
  readonly busConnected: client.Gauge;
  /** Reconnects to the node. */
  readonly busReconnects: client.Gauge;
  /** Errors the node reported that answer no call, by code (e.g. a late reply refused). */
  readonly busErrors: client.Counter<"code">;

  /** Creates the metrics; `sample` is read at each scrape for the gauges. */
  constructor(
    sample: () => { inFlight: number; queued: number; connected: boolean; reconnects: number },
  ) {
    const registers = [this.registry];
    this.requests = new client.Counter({
      name: "arqon_proxy_requests_total",
      help: "Requests handled, by direction and outcome (ok or an error kind)",
      labelNames: ["direction", "outcome"],
      registers,
    });
    this.errors = new client.Counter({
      name: "arqon_proxy_errors_total",
      help: "Requests that failed, by direction and error kind",
      labelNames: ["direction", "kind"],
      registers,
    });
    this.latency = new client.Histogram({
      name: "arqon_proxy_request_duration_seconds",
      help: "Time from receiving a request to sending its answer, by direction",
      labelNames: ["direction"],
      buckets: BUCKETS,
      registers,
    });
    this.inFlight = new client.Gauge({
      name: "arqon_proxy_upstream_in_flight",
      help: "Upstream calls running",
      registers,
      collect() {
        this.set(sample().inFlight);
      },
    });
    this.queued = new client.Gauge({
      name: "arqon_proxy_upstream_queued",
      help: "Bus requests waiting for an upstream slot",
      registers,
      collect() {
        this.set(sample().queued);
      },
    });
    this.busConnected = new client.Gauge({
      name: "arqon_proxy_bus_connected",
      help: "1 while the proxy is connected to the node",
      registers,
      collect() {
        this.set(sample().connected ? 1 : 0);
      },
    });
    this.busErrors = new client.Counter({
      name: "arqon_proxy_bus_errors_total",
      help:
        "Errors the node reported that answer no call (e.g. a reply after its requester gave up)",
      labelNames: ["code"],
      registers,
    });
    this.busReconnects = new client.Gauge({
      name: "arqon_proxy_bus_reconnects",
      help: "Times the proxy reconnected to the node",
      registers,
      collect() {
        this.set(sample().reconnects);
      },
    });
  }

  // The success path's label children, bound once: a label lookup hashes its values.
  readonly #ok = {
    bus_to_http: {
      count: null as client.Counter.Internal | null,
      time: null as client.Histogram.Internal<"direction"> | null,
    },
    http_to_bus: {
      count: null as client.Counter.Internal | null,
      time: null as client.Histogram.Internal<"direction"> | null,
    },
  };

  /** Records one answered request: `kind` is the error kind, absent on success. */
  done(direction: Direction, startedAt: number, kind?: string): void {
    const bound = this.#ok[direction];
    bound.time ??= this.latency.labels(direction);
    bound.time.observe((performance.now() - startedAt) / 1000);
    if (!kind) {
      (bound.count ??= this.requests.labels(direction, "ok")).inc();
      return;
    }
    this.requests.labels(direction, kind).inc();
    this.errors.labels(direction, kind).inc();
  }
}
