/**
 * The node's Prometheus metrics (prom-client). One `NodeMetrics` per node, never global,
 * so several nodes can live in one process (tests do). Other modules register their own
 * metrics on `registry`.
 * @module
 */
import client from "prom-client";

/**
 * One pulse in this many carries a start time for the latency histograms (a power of two:
 * the hot path tests it with a mask). The others pay one counter increment.
 */
export const LATENCY_SAMPLE_EVERY = 64;

/** Buckets of the latency histograms, in seconds: 50 µs to 2.5 s. */
const LATENCY_BUCKETS = [
  0.00005,
  0.0001,
  0.00025,
  0.0005,
  0.001,
  0.0025,
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
];

/** Metric families of the Shield and the Spine; lives as long as its node. */
export class NodeMetrics {
  /** The registry `/metrics` renders; other modules add their metrics to it. */
  readonly registry: client.Registry = new client.Registry();
  /** Pulses accepted and sequenced, per reality. */
  readonly published: client.Counter<"reality">;
  /** Pulses handed to a transport for a subscriber, per reality. */
  readonly delivered: client.Counter<"reality">;
  /** Deliveries dropped by a subscriber's overflow policy, per reality and reason. */
  readonly dropped: client.Counter<"reality" | "reason">;
  /** The same drops by latency lane (normal, critical, bulk): each lane has its own bounds. */
  readonly laneDropped: client.Counter<"reality" | "lane" | "reason">;
  /** Connections closed by the node, per reality and reason (e.g. slow_consumer). */
  readonly disconnects: client.Counter<"reality" | "reason">;
  /** Frames or requests refused, per transport and error code. */
  readonly errors: client.Counter<"transport" | "code">;
  /** Open client connections, per transport. */
  readonly connections: client.Gauge<"transport">;
  /** Live subscriptions. */
  readonly subscriptions: client.Gauge;
  /** Deliveries waiting in subscriber queues. */
  readonly queuedMessages: client.Gauge;
  /** Times a connection's socket buffer was over its high-water mark at flush time. */
  readonly transportStalls: client.Counter<"transport">;
  /** Outbound transport messages and the frames they carried (batch efficiency). */
  readonly outboundMessages: client.Counter<"transport">;
  /** Frames carried by outbound transport messages. */
  readonly outboundFrames: client.Counter<"transport">;
  /** Request/reply calls by outcome (ok, timeout, no_responders). */
  readonly requests: client.Counter<"outcome">;
  /** Received messages queued by the fair ingress scheduler, per reality. */
  readonly ingressDeferred: client.Counter<"reality">;
  /** Pulses shed because their reality's ingress lane was full, per reality. */
  readonly ingressShed: client.Counter<"reality">;
  /** Bytes waiting in the fair ingress scheduler, per reality (set at render). */
  readonly ingressQueuedBytes: client.Gauge<"reality">;
  /**
   * Times a node-wide bound refused or cut a client, per limit (`max_connections`,
   * `http_header_timeout`, `hello_timeout`, `max_realities`, ...): where a limit bites.
   */
  readonly limitHits: client.Counter<"limit">;
  /** The connection cap in force (`--max-connections` or derived from the open-file limit). */
  readonly connectionsMax: client.Gauge;
  /**
   * The process's memory by kind (`rss`, `heap_used`, `heap_total`, `external`), read at
   * render: RSS alone cannot tell a leak in the JS heap from pages the allocator keeps.
   */
  readonly memory: client.Gauge<"kind">;
  /**
   * Seconds from a pulse entering the Spine to its ack being handed to the transport, per
   * reality; sampled (one pulse in `LATENCY_SAMPLE_EVERY`) so the hot path pays no clock read.
   */
  readonly publishToAck: client.Histogram<"reality">;
  /** Seconds from a pulse entering the Spine to a delivery handed to a transport (sampled). */
  readonly publishToDelivery: client.Histogram<"reality">;
  /** Seconds the CASIL policy chain took on one pulse, per reality (sampled). */
  readonly policyEval: client.Histogram<"reality">;
  /** Deliveries waiting in subscriber queues, per reality (set at render). */
  readonly realityQueued: client.Gauge<"reality">;

  /** Creates the metric families on a fresh registry. */
  constructor() {
    const registers = [this.registry];
    this.published = new client.Counter({
      name: "arqon_pulses_published_total",
      help: "Pulses accepted and sequenced.",
      labelNames: ["reality"],
      registers,
    });
    this.delivered = new client.Counter({
      name: "arqon_pulses_delivered_total",
      help: "Pulses written to subscriber transports.",
      labelNames: ["reality"],
      registers,
    });
    this.dropped = new client.Counter({
      name: "arqon_deliveries_dropped_total",
      help: "Deliveries dropped by subscriber overflow policies.",
      labelNames: ["reality", "reason"],
      registers,
    });
    this.laneDropped = new client.Counter({
      name: "arqon_lane_deliveries_dropped_total",
      help: "Deliveries dropped by subscriber overflow policies, per latency lane.",
      labelNames: ["reality", "lane", "reason"],
      registers,
    });
    this.disconnects = new client.Counter({
      name: "arqon_disconnects_total",
      help: "Connections closed by the node.",
      labelNames: ["reality", "reason"],
      registers,
    });
    this.errors = new client.Counter({
      name: "arqon_errors_total",
      help: "Frames and HTTP requests refused with a typed error.",
      labelNames: ["transport", "code"],
      registers,
    });
    this.connections = new client.Gauge({
      name: "arqon_connections",
      help: "Open client connections.",
      labelNames: ["transport"],
      registers,
    });
    this.subscriptions = new client.Gauge({
      name: "arqon_subscriptions",
      help: "Live subscriptions.",
      registers,
    });
    this.queuedMessages = new client.Gauge({
      name: "arqon_subscriber_queue_messages",
      help: "Deliveries waiting in subscriber queues.",
      registers,
    });
    this.transportStalls = new client.Counter({
      name: "arqon_transport_stalls_total",
      help: "Flushes deferred because a socket buffer was above its high-water mark.",
      labelNames: ["transport"],
      registers,
    });
    this.outboundMessages = new client.Counter({
      name: "arqon_outbound_messages_total",
      help: "Transport messages sent to clients.",
      labelNames: ["transport"],
      registers,
    });
    this.outboundFrames = new client.Counter({
      name: "arqon_outbound_frames_total",
      help: "Frames carried by outbound transport messages.",
      labelNames: ["transport"],
      registers,
    });
    this.requests = new client.Counter({
      name: "arqon_requests_total",
      help: "Request/reply calls by outcome.",
      labelNames: ["outcome"],
      registers,
    });
    this.ingressDeferred = new client.Counter({
      name: "arqon_ingress_deferred_total",
      help: "Received messages queued because their reality had used its share of a turn.",
      labelNames: ["reality"],
      registers,
    });
    this.ingressShed = new client.Counter({
      name: "arqon_ingress_shed_total",
      help: "Pulses refused (RATE_LIMITED) because their reality's ingress queue was full.",
      labelNames: ["reality"],
      registers,
    });
    this.ingressQueuedBytes = new client.Gauge({
      name: "arqon_ingress_queued_bytes",
      help: "Received bytes waiting in the fair ingress scheduler.",
      labelNames: ["reality"],
      registers,
    });
    this.limitHits = new client.Counter({
      name: "arqon_limit_hits_total",
      help: "Clients refused or cut by a node limit, per limit.",
      labelNames: ["limit"],
      registers,
    });
    this.connectionsMax = new client.Gauge({
      name: "arqon_connections_max",
      help: "Client connections the node holds at most.",
      registers,
    });
    this.memory = new client.Gauge({
      name: "arqon_process_memory_bytes",
      help: "Process memory by kind (rss, heap_used, heap_total, external).",
      labelNames: ["kind"],
      registers,
    });
    this.publishToAck = new client.Histogram({
      name: "arqon_publish_to_ack_seconds",
      help: "Pulse entering the Spine to its ack handed to the transport (sampled).",
      labelNames: ["reality"],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.publishToDelivery = new client.Histogram({
      name: "arqon_publish_to_delivery_seconds",
      help: "Pulse entering the Spine to a delivery handed to a transport (sampled).",
      labelNames: ["reality"],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.policyEval = new client.Histogram({
      name: "arqon_policy_eval_seconds",
      help: "Time of the CASIL policy chain on one pulse (sampled).",
      labelNames: ["reality"],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.realityQueued = new client.Gauge({
      name: "arqon_reality_queue_messages",
      help: "Deliveries waiting in subscriber queues, per reality.",
      labelNames: ["reality"],
      registers,
    });
    this.onCollect(() => {
      const usage = Deno.memoryUsage();
      this.memory.set({ kind: "rss" }, usage.rss);
      this.memory.set({ kind: "heap_used" }, usage.heapUsed);
      this.memory.set({ kind: "heap_total" }, usage.heapTotal);
      this.memory.set({ kind: "external" }, usage.external);
    });
  }

  readonly #collectors: (() => void)[] = [];

  /**
   * Registers a hook that runs before every render: hot paths keep plain counters and
   * fold them into their metrics here instead of paying a metric update per pulse.
   */
  onCollect(hook: () => void): void {
    this.#collectors.push(hook);
  }

  /** Renders every registered metric in the Prometheus text format. */
  render(): Promise<string> {
    for (const hook of this.#collectors) hook();
    return this.registry.metrics();
  }
}
