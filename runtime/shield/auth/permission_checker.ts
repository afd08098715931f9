/**
 * The per-session authorization check on the hot path. Patterns are compiled once when
 * the session starts and each decision is cached per topic, so a steady stream of
 * publishes to a few topics costs one `Map` lookup each.
 * @module
 */
import { BusError } from "../../protocol/mod.ts";
import { forbidden, unauthorized } from "./errors.ts";
import type { Principal, TopicRules } from "./grants.ts";
import {
  type CompiledPattern,
  compilePattern,
  coversPattern,
  matchesTopic,
  overlapsPattern,
} from "../../protocol/mod.ts";

/** Cached decisions per session; beyond this the cache starts over (topics are unbounded). */
const CACHE_LIMIT = 4096;

interface CompiledRules {
  /** undefined: everything allowed. */
  readonly allow?: readonly CompiledPattern[];
  readonly deny: readonly CompiledPattern[];
}

/** How a subscription was admitted. */
export interface SubscribeDecision {
  /**
   * True when the pattern overlaps a denied pattern without being inside it: the
   * subscription stands, but each delivery must pass `canReceive(topic)`.
   */
  readonly filterDeliveries: boolean;
}

/** Authorizes one session's actions against its principal's grants. */
export class PermissionChecker {
  /** The principal whose grants are checked. */
  readonly principal: Principal;
  readonly #admin: boolean;
  readonly #controller: boolean;
  readonly #allRealities: boolean;
  readonly #realities: ReadonlySet<string>;
  readonly #publish: CompiledRules;
  readonly #subscribe: CompiledRules;
  readonly #publishCache = new Map<string, boolean>();
  readonly #receiveCache = new Map<string, boolean>();
  #checks = 0;
  /** Set once expiry has been seen: every later check fails without reading the clock. */
  #dead: BusError | undefined;

  /** Compiles the principal's patterns once for the life of the session. */
  constructor(principal: Principal) {
    this.principal = principal;
    this.#admin = principal.roles.includes("admin");
    this.#controller = this.#admin || principal.roles.includes("controller");
    this.#allRealities = this.#admin || principal.realities.includes("*");
    this.#realities = new Set(principal.realities);
    this.#publish = compileRules(principal.publish);
    this.#subscribe = compileRules(principal.subscribe);
  }

  /** True when the principal holds `role` (admins hold every role). */
  hasRole(role: Principal["roles"][number]): boolean {
    return this.#admin || this.principal.roles.includes(role);
  }

  /** An UNAUTHORIZED error once the credentials have expired, else undefined. */
  expired(nowMs: number = Date.now()): BusError | undefined {
    const at = this.principal.expiresAtMs;
    return at !== undefined && nowMs >= at
      ? unauthorized(`credentials of ${this.principal.subject} expired`)
      : undefined;
  }

  /**
   * `expired()` on the first check and every 64th after: reading the clock (~60 ns) costs
   * more than the rest of a check, and a WebSocket session also has a timer that closes it
   * at expiry; an HTTP request gets a fresh checker, so its one check always looks.
   */
  #expiredSampled(): BusError | undefined {
    if (this.#dead) return this.#dead;
    if (this.principal.expiresAtMs === undefined || (this.#checks++ & 63) !== 0) return undefined;
    return this.#dead = this.expired();
  }

  /** True when the principal may use `realityId` (empty means `default`). */
  canUseReality(realityId: string): boolean {
    return this.#allRealities || this.#realities.has(realityId === "" ? "default" : realityId);
  }

  /**
   * True when using `realityId` may create it: admins may, and principals whose grants
   * name it; a `*` grant lets a principal use the realities that exist, not add more.
   */
  canCreateReality(realityId: string): boolean {
    return this.#admin || this.#realities.has(realityId === "" ? "default" : realityId);
  }

  /** True when the principal may publish to the concrete `topic` (reality checked apart). */
  canPublish(topic: string): boolean {
    let allowed = this.#publishCache.get(topic);
    if (allowed === undefined) {
      allowed = this.#decidePublish(topic);
      remember(this.#publishCache, topic, allowed);
    }
    return allowed;
  }

  /** Throws FORBIDDEN (or UNAUTHORIZED when expired) unless the publish is allowed. */
  authorizePublish(realityId: string, topic: string): void {
    const expired = this.#expiredSampled();
    if (expired) throw expired;
    if (!this.canUseReality(realityId)) {
      throw forbidden(`${this.principal.subject} may not use reality "${realityId || "default"}"`);
    }
    if (!this.canPublish(topic)) {
      throw forbidden(`${this.principal.subject} may not publish to "${topic}"`);
    }
  }

  /** Throws FORBIDDEN unless the subscription is allowed; says whether to filter deliveries. */
  authorizeSubscribe(realityId: string, pattern: string): SubscribeDecision {
    const expired = this.#dead ?? (this.#dead = this.expired());
    if (expired) throw expired;
    if (!this.canUseReality(realityId)) {
      throw forbidden(`${this.principal.subject} may not use reality "${realityId || "default"}"`);
    }
    if (this.#admin) return { filterDeliveries: false };
    let p: CompiledPattern;
    try {
      p = compilePattern(pattern);
    } catch (e) {
      throw new BusError("INVALID_PATTERN", (e as Error).message);
    }
    const rules = this.#subscribe;
    if (rules.allow && !rules.allow.some((a) => coversPattern(a, p))) {
      throw forbidden(`${this.principal.subject} may not subscribe to "${pattern}"`);
    }
    let filterDeliveries = false;
    for (const d of rules.deny) {
      if (coversPattern(d, p)) {
        throw forbidden(`${this.principal.subject} may not subscribe to "${pattern}" (denied)`);
      }
      if (overlapsPattern(d, p)) filterDeliveries = true;
    }
    return { filterDeliveries };
  }

  /** For filtered subscriptions: true when a delivery on `topic` may reach this principal. */
  canReceive(topic: string): boolean {
    let allowed = this.#receiveCache.get(topic);
    if (allowed === undefined) {
      allowed = this.#admin || decide(this.#subscribe, topic.split("."));
      remember(this.#receiveCache, topic, allowed);
    }
    return allowed;
  }

  #decidePublish(topic: string): boolean {
    if (this.#admin) return true;
    const segments = topic.split(".");
    // `sys.control.*` steers the node: reserved to controllers whatever the topic rules say.
    if (segments[0] === "sys" && segments[1] === "control" && !this.#controller) return false;
    // Replies to requests go to the node's `_inbox.*` topics, whatever the publish rules
    // (NATS' allow_responses): `reply_guard.ts` lets only the responders the request
    // reached publish there, which no topic rule could express.
    if (segments[0] === "_inbox") return true;
    return decide(this.#publish, segments);
  }
}

function compileRules(rules: TopicRules): CompiledRules {
  return {
    allow: rules.allow?.map(compilePattern),
    deny: (rules.deny ?? []).map(compilePattern),
  };
}

function decide(rules: CompiledRules, segments: readonly string[]): boolean {
  for (const d of rules.deny) if (matchesTopic(d, segments)) return false;
  if (!rules.allow) return true;
  for (const a of rules.allow) if (matchesTopic(a, segments)) return true;
  return false;
}

function remember(cache: Map<string, boolean>, key: string, value: boolean): void {
  if (cache.size >= CACHE_LIMIT) cache.clear();
  cache.set(key, value);
}
