/**
 * Quotas per reality: how many connections and subscriptions it may hold at once and
 * how many bytes it may keep in the log. Unlike rates, quotas are counts that go up on
 * acquire and down on release, so every successful `acquire` must be paired with a
 * `release` (the returned function, idempotent).
 * @module
 */

/** Quotas of one reality. Omitted or 0 means unlimited. */
export interface RealityQuota {
  readonly maxConnections?: number;
  readonly maxSubscriptions?: number;
  readonly maxStoredBytes?: number;
}

/** Quotas of a node: defaults plus per-reality overrides. */
export interface QuotaConfig {
  readonly perReality?: RealityQuota;
  readonly realities?: Readonly<Record<string, RealityQuota>>;
}

/** A counted resource. */
export type QuotaKind = "connections" | "subscriptions" | "storedBytes";

/** Why an acquire was refused. */
export interface QuotaRefusal {
  readonly code: "QUOTA_EXCEEDED";
  readonly kind: QuotaKind;
  readonly limit: number;
  readonly message: string;
}

/** Called for each refusal, for metrics. */
export type QuotaRefusalListener = (realityId: string, refusal: QuotaRefusal) => void;

/** Releases what an acquire took; calling it twice releases once. */
export type Release = () => void;

const LIMIT_FIELD: Record<QuotaKind, keyof RealityQuota> = {
  connections: "maxConnections",
  subscriptions: "maxSubscriptions",
  storedBytes: "maxStoredBytes",
};

/** Usage counters of every reality against its quota. */
export class RealityQuotas {
  readonly #config: QuotaConfig;
  readonly #usage = new Map<string, Record<QuotaKind, number>>();
  readonly #listener?: QuotaRefusalListener;

  /** Creates the counters. */
  constructor(config: QuotaConfig, listener?: QuotaRefusalListener) {
    this.#config = config;
    this.#listener = listener;
  }

  /** The limit of `kind` for a reality (0 = unlimited). */
  limit(realityId: string, kind: QuotaKind): number {
    const q = this.#config.realities?.[realityId] ?? this.#config.perReality;
    return q?.[LIMIT_FIELD[kind]] ?? 0;
  }

  /** Current usage of `kind` in a reality. */
  usage(realityId: string, kind: QuotaKind): number {
    return this.#usage.get(realityId)?.[kind] ?? 0;
  }

  /** Takes `amount` of `kind`: a release function, or the refusal (nothing taken). */
  acquire(realityId: string, kind: QuotaKind, amount = 1): Release | QuotaRefusal {
    const usage = this.#counters(realityId);
    const limit = this.limit(realityId, kind);
    if (limit > 0 && usage[kind] + amount > limit) {
      const refusal: QuotaRefusal = {
        code: "QUOTA_EXCEEDED",
        kind,
        limit,
        message: `reality "${realityId || "default"}" is at its ${kind} quota (${limit})`,
      };
      this.#listener?.(realityId, refusal);
      return refusal;
    }
    usage[kind] += amount;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      usage[kind] -= amount;
    };
  }

  /**
   * Sets the stored bytes of a reality to what the log reports (after retention or a
   * restart), since stored bytes shrink outside the acquire/release pairs.
   */
  setStoredBytes(realityId: string, bytes: number): void {
    this.#counters(realityId).storedBytes = bytes;
  }

  #counters(realityId: string): Record<QuotaKind, number> {
    let usage = this.#usage.get(realityId);
    if (!usage) {
      usage = { connections: 0, subscriptions: 0, storedBytes: 0 };
      this.#usage.set(realityId, usage);
    }
    return usage;
  }
}

/** Narrows an acquire result. */
export function isQuotaRefusal(result: Release | QuotaRefusal): result is QuotaRefusal {
  return typeof result !== "function";
}
