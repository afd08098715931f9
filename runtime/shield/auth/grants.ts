/**
 * What an authenticated principal may do: which realities it may enter, which topics it
 * may publish to and subscribe to (allow and deny lists, as in NATS permissions), and
 * its roles. Tokens carry grants as claims; DIDs get them from the node's config.
 * @module
 */
import { compilePattern } from "../../protocol/mod.ts";

/** Roles, from most to least powerful. */
export const ROLES = ["admin", "controller", "operator", "client"] as const;
/** One role: `admin` may do everything; `controller` may publish `sys.control.*`. */
export type Role = typeof ROLES[number];

/**
 * Allow and deny topic patterns. An omitted `allow` allows every topic; an empty one
 * allows none. Deny always wins over allow.
 */
export interface TopicRules {
  readonly allow?: readonly string[];
  readonly deny?: readonly string[];
}

/** The permissions a principal carries. */
export interface Grants {
  /** Reality ids the principal may use; `*` means all. */
  readonly realities: readonly string[];
  readonly publish: TopicRules;
  readonly subscribe: TopicRules;
  readonly roles: readonly Role[];
  /**
   * Latency lanes beyond `normal` and `bulk` the principal may send: `["critical"]`
   * allows LANE_CRITICAL (admins may always). Omitted: none.
   */
  readonly lanes?: readonly string[];
}

/** Lanes a grant may name. */
export const GRANTABLE_LANES = ["critical"] as const;

/** How a principal proved who it is. */
export type AuthMethod = "token" | "did" | "open";

/** An authenticated identity with its grants, bound to one session. */
export interface Principal extends Grants {
  /** Token subject or DID: the producer id stamped on its pulses. */
  readonly subject: string;
  readonly method: AuthMethod;
  /** Unix ms after which the session's credentials are void; undefined = never. */
  readonly expiresAtMs?: number;
  /** The token's id (`jti`), for revocations. */
  readonly tokenId?: string;
  /** When the token was issued (`iat`, Unix ms). */
  readonly issuedAtMs?: number;
}

/** Grants of a node running without authentication (loopback only): everything. */
export const OPEN_GRANTS: Grants = Object.freeze({
  realities: ["*"],
  publish: {},
  subscribe: {},
  roles: ["admin"] as Role[],
});

/**
 * Checks untrusted JSON (token claims, config) and returns well-formed grants; throws a
 * `TypeError` naming the first problem.
 */
export function parseGrants(input: unknown): Grants {
  if (input === null || typeof input !== "object") throw new TypeError("grants must be an object");
  const o = input as Record<string, unknown>;
  const realities = stringList(o.realities ?? [], "realities");
  const roles = stringList(o.roles ?? ["client"], "roles");
  for (const r of roles) {
    if (!(ROLES as readonly string[]).includes(r)) throw new TypeError(`unknown role "${r}"`);
  }
  const lanes = stringList(o.lanes ?? [], "lanes");
  for (const l of lanes) {
    if (!(GRANTABLE_LANES as readonly string[]).includes(l)) {
      throw new TypeError(`unknown lane grant "${l}" (critical)`);
    }
  }
  return {
    realities,
    publish: topicRules(o.publish, "publish"),
    subscribe: topicRules(o.subscribe, "subscribe"),
    roles: roles as Role[],
    // Left out when empty: tokens without lane grants keep their old claims.
    ...(lanes.length > 0 ? { lanes } : {}),
  };
}

function topicRules(input: unknown, name: string): TopicRules {
  if (input === undefined) return {};
  // An array (`"publish": ["a.>"]`) or a misspelt key would otherwise read as "no rules",
  // which allows everything: a grant that narrows nothing must be refused, not widened.
  if (input === null || typeof input !== "object" || Array.isArray(input)) {
    throw new TypeError(`${name} must be an object {"allow": [...], "deny": [...]}`);
  }
  const o = input as Record<string, unknown>;
  const unknown = Object.keys(o).filter((k) => k !== "allow" && k !== "deny");
  if (unknown.length > 0) {
    throw new TypeError(`${name} has unknown field(s) ${unknown.join(", ")} (allow, deny)`);
  }
  const rules: { allow?: string[]; deny?: string[] } = {};
  if (o.allow !== undefined) rules.allow = patterns(o.allow, `${name}.allow`);
  if (o.deny !== undefined) rules.deny = patterns(o.deny, `${name}.deny`);
  return rules;
}

function patterns(input: unknown, name: string): string[] {
  const list = stringList(input, name);
  for (const p of list) compilePattern(p);
  return list;
}

function stringList(input: unknown, name: string): string[] {
  if (!Array.isArray(input) || input.some((s) => typeof s !== "string" || s === "")) {
    throw new TypeError(`${name} must be a list of non-empty strings`);
  }
  return [...input];
}
