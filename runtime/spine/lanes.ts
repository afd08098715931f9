/**
 * Latency lanes: a pulse is `critical`, `normal` or `bulk`. At every queue on its path
 * critical goes first and bulk yields; each lane has its own bounds and drop counters.
 * A pulse that names no lane takes its reality's lane rule for the topic, then its
 * connection's default (`Hello.lane`), then `normal`.
 * @module
 */
import { BusError, type CompiledPattern, compilePattern, matchesTopic } from "../protocol/mod.ts";

/** No lane named (the proto3 default): resolved by rules and defaults. */
export const LANE_UNSPECIFIED = 0;
/** The default lane. */
export const LANE_NORMAL = 1;
/** Goes first at every queue; sending it needs the `critical` lane grant. */
export const LANE_CRITICAL = 2;
/** Yields to the other lanes at every queue. */
export const LANE_BULK = 3;

/** Lane names as the API spells them, indexed by the proto number. */
export const LANE_NAMES = ["unspecified", "normal", "critical", "bulk"] as const;
/** A lane's name. */
export type LaneName = "normal" | "critical" | "bulk";

/**
 * Service rank of a lane (0 goes first), indexed by the proto number: unspecified
 * counts as normal.
 */
export const LANE_RANK: readonly number[] = [1, 1, 0, 2];

/** Rules a reality holds at most. */
export const MAX_LANE_RULES = 64;
// Topics whose resolved lane is cached per reality; past it the cache starts over.
const MAX_CACHED_TOPICS = 10_000;

/** Throws INVALID_ARGUMENT for a lane number outside the enum (proto3 enums are open). */
export function checkLane(lane: number): void {
  if (lane === LANE_NORMAL || lane === LANE_CRITICAL || lane === LANE_BULK || lane === 0) return;
  throw new BusError(
    "INVALID_ARGUMENT",
    `unknown lane ${lane}: use LANE_NORMAL (1), LANE_CRITICAL (2) or LANE_BULK (3)`,
  );
}

/** The proto number of a lane name (`critical`, or `LANE_CRITICAL`); throws INVALID_ARGUMENT. */
export function laneNumber(name: unknown): number {
  if (typeof name === "string") {
    const short = name.startsWith("LANE_") ? name.slice(5).toLowerCase() : name;
    const n = (LANE_NAMES as readonly string[]).indexOf(short);
    if (n > 0) return n;
  }
  throw new BusError(
    "INVALID_ARGUMENT",
    `unknown lane ${JSON.stringify(name)}: use "critical", "normal" or "bulk"`,
  );
}

/** One rule: pulses on topics matching `pattern` that name no lane take `lane`. */
export interface LaneRule {
  /** A topic pattern (`*` one segment, `>` the rest). */
  readonly pattern: string;
  /** The lane's name. */
  readonly lane: LaneName;
}

/**
 * A reality's lane rules, first match wins; lookups are cached per topic.
 *
 * @example
 * ```ts
 * const rules = LaneRules.parse({ rules: [{ pattern: "alerts.>", lane: "critical" }] });
 * rules.laneFor("alerts.fire"); // 2 (LANE_CRITICAL)
 * rules.laneFor("logs.debug"); // 0: no rule
 * ```
 */
export class LaneRules {
  /** The rules as given. */
  readonly rules: readonly LaneRule[];
  readonly #compiled: { pattern: CompiledPattern; lane: number }[];
  #cache = new Map<string, number>();

  private constructor(rules: LaneRule[]) {
    this.rules = rules;
    this.#compiled = rules.map((r) => ({
      pattern: compilePattern(r.pattern),
      lane: laneNumber(r.lane),
    }));
  }

  /**
   * Checks untrusted JSON `{"rules": [{"pattern", "lane"}, ...]}`; throws INVALID_ARGUMENT
   * naming the first problem.
   */
  static parse(input: unknown): LaneRules {
    const list = (input as { rules?: unknown } | null)?.rules;
    if (!Array.isArray(list)) {
      throw new BusError("INVALID_ARGUMENT", 'the body must be {"rules": [{"pattern", "lane"}]}');
    }
    if (list.length > MAX_LANE_RULES) {
      throw new BusError(
        "INVALID_ARGUMENT",
        `${list.length} lane rules: a reality holds at most ${MAX_LANE_RULES}`,
      );
    }
    const rules: LaneRule[] = list.map((r, i) => {
      const pattern = (r as { pattern?: unknown })?.pattern;
      if (typeof pattern !== "string" || pattern === "") {
        throw new BusError("INVALID_ARGUMENT", `rules[${i}].pattern must be a topic pattern`);
      }
      try {
        compilePattern(pattern);
      } catch (e) {
        throw new BusError("INVALID_PATTERN", `rules[${i}].pattern: ${(e as Error).message}`);
      }
      const lane = LANE_NAMES[laneNumber((r as { lane?: unknown }).lane)] as LaneName;
      return { pattern, lane };
    });
    return new LaneRules(rules);
  }

  /** The lane of the first rule matching `topic`, or 0 (`LANE_UNSPECIFIED`) for none. */
  laneFor(topic: string): number {
    const hit = this.#cache.get(topic);
    if (hit !== undefined) return hit;
    const segments = topic.split(".");
    let lane = LANE_UNSPECIFIED;
    for (const r of this.#compiled) {
      if (matchesTopic(r.pattern, segments)) {
        lane = r.lane;
        break;
      }
    }
    if (this.#cache.size >= MAX_CACHED_TOPICS) this.#cache = new Map();
    this.#cache.set(topic, lane);
    return lane;
  }
}
