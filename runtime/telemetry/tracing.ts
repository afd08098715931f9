/**
 * OpenTelemetry spans for a pulse's path (publish, policies, sequencing, each delivery),
 * exported over OTLP/HTTP (JSON) when `--otel-endpoint` is set. Without an endpoint no
 * tracer exists and the hot path pays one `undefined` check.
 * @module
 */
import {
  type Context,
  context as otelContext,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  trace,
  type Tracer,
} from "@opentelemetry/api";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { resourceFromAttributes } from "@opentelemetry/resources";
import {
  BatchSpanProcessor,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
  TracerProvider,
} from "@opentelemetry/sdk-trace";

/** Options of the pulse tracer. */
export interface TracingOptions {
  /** The collector's OTLP/HTTP base URL (`/v1/traces` is appended unless given). */
  endpoint: string;
  /** Share of new traces kept, 0 to 1 (a sampled parent `traceparent` is always followed). */
  sampleRatio: number;
  /** `service.instance.id` of the spans (the node id). */
  nodeId: string;
  /**
   * Milliseconds between exports of finished spans.
   * @default {1000}
   */
  exportDelayMs?: number;
}

/** The trace context map of a pulse (`trace_context` in arqon.proto). */
export type TraceCarrier = { [key: string]: string } | null | undefined;

/** The part of an OpenTelemetry span the Spine uses. */
export interface PulseSpan {
  /** Ends the span (its end time is now). */
  end(): void;
  /** Marks the span failed (`code` 2: error) with a message. */
  setStatus(status: { code: 0 | 1 | 2; message?: string }): PulseSpan;
  /** Whether the span is sampled and recorded. */
  isRecording(): boolean;
}
type Carrier = TraceCarrier;

const propagator = new W3CTraceContextPropagator();
const getter = {
  keys: (c: Carrier) => Object.keys(c ?? {}),
  get: (c: Carrier, key: string) => c?.[key],
};

/**
 * Starts and ends a pulse's spans. A publish span's parent is the pulse's W3C
 * `traceparent`; the policy, sequencing and delivery spans are its children.
 *
 * @example
 * ```ts
 * import { PulseTracer } from "./tracing.ts";
 *
 * const tracer = PulseTracer.create({ endpoint: "", sampleRatio: 1, nodeId: "n1" });
 * console.log(tracer); // undefined: no endpoint, no tracer
 * ```
 */
export class PulseTracer {
  readonly #provider: TracerProvider;
  readonly #tracer: Tracer;
  // Publish spans of stamped pulses, for their deliveries; gone with the pulse.
  readonly #publishSpans = new WeakMap<object, Span>();

  private constructor(options: TracingOptions) {
    let url = options.endpoint.replace(/\/+$/, "");
    if (!url.endsWith("/v1/traces")) url += "/v1/traces";
    this.#provider = new TracerProvider({
      resource: resourceFromAttributes({
        "service.name": "arqon",
        "service.instance.id": options.nodeId,
      }),
      sampler: new ParentBasedSampler({
        root: new TraceIdRatioBasedSampler(options.sampleRatio),
      }),
      spanProcessors: [
        new BatchSpanProcessor({
          exporter: new OTLPTraceExporter({ url }),
          scheduledDelayMillis: options.exportDelayMs ?? 1000,
        }),
      ],
    });
    this.#tracer = this.#provider.getTracer("arqon");
  }

  /** A tracer, or undefined when `endpoint` is empty (tracing off costs nothing). */
  static create(options: TracingOptions): PulseTracer | undefined {
    if (!options.endpoint) return undefined;
    return new PulseTracer(options);
  }

  /** Starts the publish span of a pulse, child of its `traceparent` when it has one. */
  publish(traceContext: TraceCarrier, topic: string, reality: string): PulseSpan {
    const parent = traceContext
      ? propagator.extract(ROOT_CONTEXT, traceContext, getter)
      : ROOT_CONTEXT;
    return this.#tracer.startSpan("arqon.publish", {
      kind: SpanKind.PRODUCER,
      attributes: { "messaging.system": "arqon", "messaging.destination.name": topic, reality },
    }, parent);
  }

  /** Starts a child span (`arqon.policies`, `arqon.sequence`, ...) of `parent`. */
  child(parent: PulseSpan, name: string): PulseSpan {
    return this.#tracer.startSpan(name, {}, trace.setSpan(this.#root(), parent as Span));
  }

  /** Remembers `span` as the publish span of `pulse`, for its deliveries. */
  attach(pulse: object, span: PulseSpan): void {
    if (span.isRecording()) this.#publishSpans.set(pulse, span as Span);
  }

  /** Records one delivery of `pulse` handed to a transport (no-op for unsampled pulses). */
  delivered(pulse: object, subscriptionId: number, transport: string): void {
    const parent = this.#publishSpans.get(pulse);
    if (!parent) return;
    this.#tracer.startSpan("arqon.deliver", {
      kind: SpanKind.CONSUMER,
      attributes: { "messaging.subscription.id": subscriptionId, transport },
    }, trace.setSpan(this.#root(), parent)).end();
  }

  /** Exports what is still buffered and stops. */
  async close(): Promise<void> {
    await this.#provider.shutdown();
  }

  #root(): Context {
    return otelContext.active();
  }
}
