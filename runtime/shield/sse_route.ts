/**
 * `GET /v1/realities/{reality}/subscribe`: a subscription as Server-Sent Events, with
 * resume. Each pulse event carries `id: <sequence>`, so a browser's `EventSource`
 * reconnects with `Last-Event-ID` and the node replays what it missed from the durable
 * log, then continues live with no gap and no duplicate (the WebSocket `from_sequence`
 * machinery: the live subscription opens first, history up to the sequence reached at
 * that moment is fed ahead of it). `?from_sequence=` (alias `from_seq`) starts a replay
 * without a previous stream. Resuming where nothing is retained is refused with 409
 * `NOT_RETAINED` rather than silently skipping the pulses sent meanwhile.
 * @module
 */
import type { Context, Handler } from "hono";
import { streamSSE } from "hono/streaming";
import client from "prom-client";
import {
  BusError,
  compileSpectralFilter,
  decodePulse,
  patternError,
  realityError,
} from "../protocol/mod.ts";
import { type DurableLog, type Spine, StampedPulse } from "../spine/mod.ts";
import type { SessionAccess } from "./auth/mod.ts";
import { replayHistory } from "./history_replay.ts";
import { refuseInboxPattern } from "./reply_guard.ts";
import { type SseMetrics, SseSubscriber } from "./sse.ts";

const OVERFLOW_QUERY = new Set(["drop-oldest", "drop-new", "disconnect"]);
const INTEGER = /^\d{1,16}$/;

/** What the SSE route needs from the HTTP API. */
export interface SseRouteOptions {
  /** Where the subscription lives. */
  readonly spine: Spine;
  /** The durable log replays come from; absent: no resume. */
  readonly store?: DurableLog;
  /** Delivery counters, and the registry the `arqon_sse_streams` gauge joins. */
  readonly metrics: SseMetrics & { readonly registry: client.Registry };
  /**
   * Milliseconds between keepalive comments (`: keepalive`); 0 sends none.
   * @default {15000}
   */
  readonly keepaliveMs?: number;
  /** The authenticated session of a request, when auth is on. */
  readonly sessionOf: (req: Request) => SessionAccess | undefined;
  /** The reply identity of a request's client. */
  readonly replySubject: (req: Request) => string | undefined;
}

function integer(raw: string, name: string): number {
  if (!INTEGER.test(raw) || !Number.isSafeInteger(Number(raw))) {
    throw new BusError("INVALID_ARGUMENT", `${name} must be a non-negative integer`);
  }
  return Number(raw);
}

/**
 * The first sequence a resuming stream wants, or undefined for live only. `Last-Event-ID`
 * wins over the query: a browser reconnects to the same URL, the header says how far it
 * got. `Last-Event-ID: 7` resumes at 8; `from_sequence=7` starts at 7 (as on WebSocket).
 */
export function resumeSequence(c: Context): number | undefined {
  const last = c.req.header("last-event-id")?.trim();
  if (last) return integer(last, "Last-Event-ID") + 1;
  for (const name of ["from_sequence", "from_seq"]) {
    const raw = c.req.query(name);
    if (raw !== undefined && raw !== "") return Math.max(1, integer(raw, name));
  }
  return undefined;
}

/**
 * Refuses a resume the log cannot serve: no log, or no retention rule covering the
 * pattern (probed with one concrete topic of it; a pattern partly retained resumes the
 * retained part).
 */
export function refuseUnretained(
  store: DurableLog | undefined,
  reality: string,
  pattern: string,
): void {
  if (!store) {
    throw new BusError("NOT_RETAINED", "resuming needs a durable log; this node keeps none");
  }
  const probe = pattern.split(".").map((t) => (t === "*" || t === ">" ? "x" : t)).join(".");
  if (!store.shouldStore(reality, probe)) {
    throw new BusError(
      "NOT_RETAINED",
      `no retention rule keeps "${pattern}" in reality ${reality || "default"}; ` +
        "pulses missed while disconnected cannot be replayed (add a retention rule)",
    );
  }
}

/** The route's handler. */
export function sseSubscribeHandler(opts: SseRouteOptions): Handler {
  const streams = (opts.metrics.registry.getSingleMetric("arqon_sse_streams") as
    | client.Gauge
    | undefined) ?? new client.Gauge({
    name: "arqon_sse_streams",
    help: "Open Server-Sent Events subscription streams",
    registers: [opts.metrics.registry],
  });
  const keepaliveMs = opts.keepaliveMs ?? 15_000;
  return (c) => {
    const pattern = c.req.query("pattern") ?? "";
    const overflow = c.req.query("overflow");
    if (overflow !== undefined && !OVERFLOW_QUERY.has(overflow)) {
      throw new BusError(
        "INVALID_ARGUMENT",
        "overflow must be drop-oldest, drop-new or disconnect",
      );
    }
    const reality = c.req.param("reality") ?? "";
    // Validate before the stream starts so errors are a proper 4xx, not an SSE event.
    const patternProblem = patternError(pattern);
    if (patternProblem) throw new BusError("INVALID_PATTERN", patternProblem);
    const realityProblem = realityError(reality);
    if (realityProblem) throw new BusError("INVALID_ARGUMENT", realityProblem);
    refuseInboxPattern(pattern);
    const fromSeq = resumeSequence(c);
    const queueGroup = c.req.query("queue_group") ?? "";
    if (fromSeq !== undefined) {
      if (queueGroup) {
        throw new BusError("INVALID_ARGUMENT", "resume is not supported for queue groups");
      }
      refuseUnretained(opts.store, reality, pattern);
    }
    const filterText = c.req.query("spectral_filter");
    const spectralFilter = filterText ? compileSpectralFilter(filterText) : undefined;
    const grant = opts.sessionOf(c.req.raw)?.admitSubscribe(reality, pattern);
    if (grant?.filterDeliveries) {
      grant.release();
      throw new BusError(
        "FORBIDDEN",
        `"${pattern}" overlaps a denied topic; subscribe to a narrower pattern`,
      );
    }
    return streamSSE(c, async (stream) => {
      streams.inc();
      const owner = new SseSubscriber(stream, opts.metrics, opts.replySubject(c.req.raw));
      const sub = owner.sub = opts.spine.subscribe(owner, {
        id: 1,
        realityId: reality,
        pattern,
        queueGroup,
        overflow: overflow as "drop-oldest" | undefined,
        spectralFilter,
      });
      // Comments keep idle streams open through proxies; a failed write means the client left.
      const keepalive = keepaliveMs > 0
        ? setInterval(() => {
          stream.write(": keepalive\n\n").catch(() => {});
        }, keepaliveMs)
        : undefined;
      try {
        await stream.writeSSE({ event: "subscribed", data: JSON.stringify({ pattern, reality }) });
        if (fromSeq !== undefined) {
          const upTo = opts.spine.reality(sub.spec.realityId).sequence;
          sub.beginReplay();
          replayHistory(opts.store!, {
            reality: sub.spec.realityId,
            pattern,
            fromSeq,
            toSeq: upTo,
          }, {
            feed: (pulses) =>
              sub.feedReplay(
                pulses.map((p) => StampedPulse.fromStored(decodePulse(p.bytes), p.bytes)),
              ),
            backlog: () => sub.replayBacklog,
            closed: () => sub.closed || stream.aborted,
          }).then(() => sub.endReplay(), (err) => {
            sub.endReplay();
            const e = err instanceof BusError ? err : new BusError("INTERNAL", String(err));
            stream.writeSSE({
              event: "error",
              data: JSON.stringify({ error: { code: e.code, message: e.message } }),
            }).catch(() => {});
          });
        }
        await owner.finished;
      } finally {
        clearInterval(keepalive);
        streams.dec();
        owner.close(opts.spine);
        grant?.release();
      }
    });
  };
}
