/**
 * Bus -> HTTP: each request delivered on the served pattern becomes one upstream call,
 * through the {@linkcode Gate} (bounded concurrency, bounded queue), and its answer (or a
 * typed error) becomes the reply. A 4xx/5xx upstream response is an answer, not an error.
 * @module
 */
import type { ArqonClient, IPulse } from "../client/mod.ts";
import { BusError } from "../protocol/mod.ts";
import { errorBody, ProxyError } from "./errors.ts";
import type { Gate } from "./gate.ts";
import {
  ERROR_HEADER,
  ERROR_KIND_HEADER,
  pathOfTopic,
  replyHeadersOf,
  STATUS_HEADER,
  upstreamCallOf,
} from "./mapping.ts";
import type { ProxyMetrics } from "./metrics.ts";
import type { ProxyOptions } from "./options.ts";
import { callUpstream } from "./upstream.ts";

const DIRECTION = "bus_to_http";

/** Serves bus requests with the upstream. */
export class UpstreamServer {
  readonly #client: ArqonClient;
  readonly #options: ProxyOptions;
  readonly #gate: Gate;
  readonly #metrics: ProxyMetrics;
  readonly #prefix: string;

  /** A server answering through `client`. */
  constructor(client: ArqonClient, options: ProxyOptions, gate: Gate, metrics: ProxyMetrics) {
    this.#client = client;
    this.#options = options;
    this.#gate = gate;
    this.#metrics = metrics;
    this.#prefix = options.serve.slice(0, -2);
  }

  /** A delivery on the served pattern (the subscription's `onPulse`). */
  readonly onPulse = (pulse: IPulse): void => {
    const startedAt = performance.now();
    // A plain publish has no one to answer: it is counted and left alone.
    if (!pulse.replyTo) {
      this.#metrics.requests.labels(DIRECTION, "not_a_request").inc();
      return;
    }
    // Read what the call needs now: the task may start after this delivery's turn.
    const request = {
      replyTo: pulse.replyTo,
      realityId: pulse.realityId ?? "",
      topic: pulse.topic ?? "",
      headers: pulse.headers ?? {},
      contentType: pulse.contentType ?? "",
      payload: pulse.payload ?? new Uint8Array(0),
    };
    const admitted = this.#gate.run(() => this.#serve(request, startedAt));
    if (!admitted) {
      this.#replyError(
        request,
        new ProxyError(
          "busy",
          `all ${this.#options.concurrency} upstream slots and ${this.#options.maxQueue} queue places are taken`,
        ),
        startedAt,
      );
    }
  };

  async #serve(request: RequestPulse, startedAt: number): Promise<void> {
    try {
      const call = upstreamCallOf(
        this.#options.upstream,
        pathOfTopic(request.topic, this.#prefix),
        request.headers,
        request.contentType,
        request.payload,
      );
      const { response, body } = await callUpstream(
        call,
        this.#options.upstreamTimeoutMs,
        this.#options.maxBodyBytes,
      );
      this.#send(
        request,
        body,
        replyHeadersOf(response),
        response.headers.get("content-type") ?? "",
      );
      this.#metrics.done(DIRECTION, startedAt);
    } catch (err) {
      this.#replyError(request, asProxyError(err), startedAt);
    }
  }

  #replyError(request: RequestPulse, error: ProxyError, startedAt: number): void {
    this.#send(request, errorBody(error.code, error.message, error.kind), {
      [STATUS_HEADER]: String(error.status),
      [ERROR_HEADER]: error.code,
      [ERROR_KIND_HEADER]: error.kind,
    }, "application/json");
    this.#metrics.done(DIRECTION, startedAt, error.kind);
  }

  #send(
    request: RequestPulse,
    body: Uint8Array | string,
    headers: Record<string, string>,
    contentType: string,
  ): void {
    // Fire and forget (the requester's wait is the acknowledgement); a refusal reaches
    // the client's onError.
    this.#client.publish(request.replyTo, body, {
      ack: "none",
      reality: request.realityId,
      headers,
      contentType,
    }).catch(() => {});
  }
}

/** The fields of a request pulse the upstream call is built from. */
interface RequestPulse {
  replyTo: string;
  realityId: string;
  topic: string;
  headers: Record<string, string>;
  contentType: string;
  payload: Uint8Array;
}

function asProxyError(err: unknown): ProxyError {
  if (err instanceof ProxyError) return err;
  // The mapping's refusals (method, header, body on GET, topic): the request's fault.
  if (err instanceof BusError) return new ProxyError("bad_request", err.message);
  return new ProxyError("upstream_invalid", String((err as Error)?.message ?? err));
}
