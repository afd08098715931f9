/**
 * Reality configuration (retention rules, limits) and the in-memory state the log keeps
 * per reality: its id, head sequence and compiled rules.
 * @module
 */
import { compilePattern, patternError, realityError } from "../protocol/mod.ts";
import type { RealityConfig, RealityInfo, RetentionRule } from "../spine/mod.ts";
import { StorageError } from "./errors.ts";

/** Throws `ERROR_CODE_INVALID_ARGUMENT` unless `name` is a valid reality name. */
export function validateRealityName(name: string): void {
  // The protocol's rule, so every reality the API creates can be published to.
  if (realityError(name)) {
    throw new StorageError(
      `invalid reality name "${name}": 1-64 characters of [a-z0-9_-]`,
      "INVALID_ARGUMENT",
    );
  }
}

/**
 * Compiles a topic pattern given to the store's API (retention rule, history filter); a
 * malformed one fails with `ERROR_CODE_INVALID_ARGUMENT` like every other bad argument.
 */
export function compileStorePattern(pattern: string): (topic: string) => boolean {
  const err = patternError(pattern);
  if (err) throw new StorageError(`invalid topic pattern "${pattern}": ${err}`, "INVALID_ARGUMENT");
  return compilePattern(pattern).test;
}

function limit(value: unknown, what: string): number {
  if (value === undefined || value === null) return 0;
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) {
    throw new StorageError(
      `${what} must be a non-negative integer`,
      "INVALID_ARGUMENT",
    );
  }
  return value;
}

/** Validates and fills defaults of a (possibly partial, possibly untrusted JSON) config. */
export function normalizeRealityConfig(input: unknown): RealityConfig {
  const raw = (input ?? {}) as Record<string, unknown>;
  if (typeof raw !== "object" || Array.isArray(raw)) {
    throw new StorageError("reality config must be an object", "INVALID_ARGUMENT");
  }
  const rulesIn = raw.retention ?? [];
  if (!Array.isArray(rulesIn)) {
    throw new StorageError("retention must be an array", "INVALID_ARGUMENT");
  }
  const seen = new Set<string>();
  const retention = rulesIn.map((r: Record<string, unknown>, i): RetentionRule => {
    if (typeof r !== "object" || r === null || typeof r.pattern !== "string") {
      throw new StorageError(
        `retention[${i}].pattern must be a string`,
        "INVALID_ARGUMENT",
      );
    }
    compileStorePattern(r.pattern);
    if (seen.has(r.pattern)) {
      throw new StorageError(
        `retention pattern "${r.pattern}" appears twice`,
        "INVALID_ARGUMENT",
      );
    }
    seen.add(r.pattern);
    return {
      pattern: r.pattern,
      maxAgeMs: limit(r.maxAgeMs, `retention[${i}].maxAgeMs`),
      maxPulses: limit(r.maxPulses, `retention[${i}].maxPulses`),
      maxBytes: limit(r.maxBytes, `retention[${i}].maxBytes`),
    };
  });
  const limitsIn = raw.limits ?? {};
  if (typeof limitsIn !== "object" || limitsIn === null || Array.isArray(limitsIn)) {
    throw new StorageError("limits must be an object", "INVALID_ARGUMENT");
  }
  const limits: Record<string, number> = {};
  for (const [key, value] of Object.entries(limitsIn)) limits[key] = limit(value, `limits.${key}`);
  const config: RealityConfig = { retention, limits };
  if (raw.description !== undefined) {
    if (typeof raw.description !== "string") {
      throw new StorageError("description must be a string", "INVALID_ARGUMENT");
    }
    return { ...config, description: raw.description };
  }
  return config;
}

/** A retention rule with its persisted id and live counters. */
export class RuleState {
  /** Row id in the `rules` table; chunks reference it. */
  readonly id: number;
  /** The rule as configured. */
  rule: RetentionRule;
  /** Compiled pattern. */
  readonly matches: (topic: string) => boolean;
  /** Pulses retained. */
  storedPulses: number;
  /** Bytes retained. */
  storedBytes: number;
  /** Every pulse of this rule with `sequence <= watermark` is deleted. */
  watermark: number;

  /** Creates the state of a persisted rule. */
  constructor(id: number, rule: RetentionRule, pulses = 0, bytes = 0, watermark = 0) {
    this.id = id;
    this.rule = rule;
    this.matches = compileStorePattern(rule.pattern);
    this.storedPulses = pulses;
    this.storedBytes = bytes;
    this.watermark = watermark;
  }

  /** True when the count or byte limit is exceeded. */
  overSize(): boolean {
    const { maxPulses, maxBytes } = this.rule;
    return (!!maxPulses && this.storedPulses > maxPulses) ||
      (!!maxBytes && this.storedBytes > maxBytes);
  }
}

const RULE_CACHE_LIMIT = 4096;

/** A reality as the log holds it in memory. */
export class RealityState {
  /** Row id in the `realities` table. */
  readonly id: number;
  /** Name. */
  readonly name: string;
  /** Configuration. */
  config: RealityConfig;
  /** Creation time. */
  readonly createdMs: number;
  /** Last sequence appended (stored or fire-and-forget). */
  lastSeq: number;
  /**
   * The head as written in the database: the exact last sequence after a commit that
   * stored pulses, or a lease ahead of it for fire-and-forget traffic (see group_commit.ts).
   */
  persistedSeq: number;
  /** Wall time of the last committed pulse. */
  lastWall: number;
  /** Rules in match order. */
  rules: RuleState[] = [];
  #ruleForTopic = new Map<string, RuleState | null>();

  /** Creates the state of a persisted reality. */
  constructor(
    id: number,
    name: string,
    config: RealityConfig,
    createdMs: number,
    lastSeq: number,
    lastWall: number,
  ) {
    this.id = id;
    this.name = name;
    this.config = config;
    this.createdMs = createdMs;
    this.lastSeq = lastSeq;
    this.persistedSeq = lastSeq;
    this.lastWall = lastWall;
  }

  /** Replaces the rules (after a config change). */
  setRules(rules: RuleState[]): void {
    this.rules = rules;
    this.#ruleForTopic.clear();
  }

  /** The rule a topic is stored under, or null when it is fire-and-forget. */
  ruleFor(topic: string): RuleState | null {
    let rule = this.#ruleForTopic.get(topic);
    if (rule !== undefined) return rule;
    rule = this.rules.find((r) => r.matches(topic)) ?? null;
    if (this.#ruleForTopic.size >= RULE_CACHE_LIMIT) this.#ruleForTopic.clear();
    this.#ruleForTopic.set(topic, rule);
    return rule;
  }

  /** Public view of the reality. */
  info(): RealityInfo {
    let storedPulses = 0;
    let storedBytes = 0;
    for (const r of this.rules) {
      storedPulses += r.storedPulses;
      storedBytes += r.storedBytes;
    }
    return {
      name: this.name,
      config: this.config,
      createdMs: this.createdMs,
      lastSequence: this.lastSeq,
      storedPulses,
      storedBytes,
    };
  }
}
