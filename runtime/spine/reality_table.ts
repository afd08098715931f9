/**
 * The realities a Spine holds: created on first use (continuing the log's sequence),
 * bounded in number, and folded into /metrics at render time.
 * @module
 */
import { BusError, realityError } from "../protocol/mod.ts";
import type { NodeMetrics } from "../telemetry/mod.ts";
import type { HybridClock } from "../time/mod.ts";
import type { PulseFabric, PulseLog } from "./ports.ts";
import { Reality } from "./reality.ts";
import { DEFAULT_REALITY } from "./spine_options.ts";
import { LANE_UNSPECIFIED } from "./lanes.ts";

/** Realities by id; the log and fabric are the Spine's, set as the node wires them. */
export class RealityTable {
  readonly #realities = new Map<string, Reality>();
  readonly #metrics: NodeMetrics;
  readonly #clock: HybridClock;
  readonly #max: number;
  /** The durable log new realities continue from. */
  log: PulseLog | undefined;
  /** The cluster fabric new realities are opened on. */
  fabric: PulseFabric | undefined;

  /** Creates an empty table holding at most `max` realities (memory and log together). */
  constructor(metrics: NodeMetrics, clock: HybridClock, max: number) {
    this.#metrics = metrics;
    this.#clock = clock;
    this.#max = max;
    metrics.onCollect(() => {
      for (const r of this.#realities.values()) {
        if (r.published === r.publishedReported) continue;
        metrics.published.labels(r.id).inc(r.published - r.publishedReported);
        r.publishedReported = r.published;
      }
      // Queue depth per reality, summed at render rather than tracked per offer.
      metrics.realityQueued.reset();
      for (const r of this.#realities.values()) {
        metrics.realityQueued.labels(r.id).set(r.queued());
      }
    });
  }

  /** Returns a reality, creating it (continuing the log's sequence) on first use. */
  get(id: string): Reality {
    let r = this.#realities.get(id);
    if (!r) {
      const err = realityError(id);
      if (err) throw new BusError("INVALID_ARGUMENT", err);
      this.#admit(id);
      r = new Reality(id, this.log?.lastSequence(id) ?? 0);
      // History time queries rely on wall time growing with the sequence, also across a
      // restart with a clock that stepped back.
      const lastWall = this.log?.lastWallMs?.(id) ?? 0;
      if (lastWall > 0) this.#clock.observe({ wallMs: lastWall, logical: 0 });
      this.#realities.set(id, r);
      this.fabric?.open(id, r.sequence);
    }
    return r;
  }

  /** Forgets a reality without subscriptions (false when it has some, or is unknown). */
  forget(id: string): boolean {
    const r = this.#realities.get(id);
    if (!r || r.subscriptionCount > 0) return false;
    this.#realities.delete(id);
    return true;
  }

  /** A reality in memory, or undefined (creates nothing). */
  peek(id: string): Reality | undefined {
    return this.#realities.get(id);
  }

  /** Whether a reality exists, in memory or in the log (creates nothing). */
  has(id: string): boolean {
    return this.#realities.has(id) || (this.log?.hasReality?.(id) ?? false);
  }

  /** The lane a reality's rules give `topic` (0: no rule). */
  laneRuleFor(realityId: string, topic: string): number {
    return this.#realities.get(realityId || DEFAULT_REALITY)?.laneRules?.laneFor(topic) ??
      LANE_UNSPECIFIED;
  }

  /** Realities in memory. */
  values(): IterableIterator<Reality> {
    return this.#realities.values();
  }

  // Every reality costs memory, a /metrics series and restart time: they are bounded.
  // Counting is exact only near the bound (realities of the log and of memory overlap).
  #admit(id: string): void {
    const max = this.#max;
    const log = this.log;
    const inLog = log?.realityCount?.() ?? 0;
    if (this.#realities.size + inLog < max) return;
    if (log?.hasReality?.(id)) return;
    let total = inLog;
    for (const known of this.#realities.keys()) {
      if (!(log?.hasReality?.(known) ?? false)) total++;
    }
    if (total < max) return;
    this.#metrics.limitHits.labels("max_realities").inc();
    throw new BusError(
      "QUOTA_EXCEEDED",
      `the node holds its maximum of ${max} realities; "${id}" cannot be created`,
    );
  }
}
