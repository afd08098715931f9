/**
 * Topic patterns, the one matching API of every layer: a pattern is compiled once into
 * segments, then matched against topics (as a string with `test`, or already split with
 * `matchesTopic`) without allocation for literal patterns and `>`, and compared with other
 * patterns (covers, overlaps) for permissions. The syntax itself (which characters, how
 * many segments) is checked by `patternError` in `topic.ts`.
 *
 * @example
 * ```ts
 * import { compilePattern, matchesTopic, topicMatches } from "./pattern.ts";
 *
 * const orders = compilePattern("orders.*.created");
 * orders.test("orders.eu.created"); // true
 * matchesTopic(orders, ["orders", "us", "created"]); // true
 * topicMatches("orders.>", "orders.eu.created"); // true, for a one-off check
 * ```
 * @module
 */

/** A pattern split into segments, ready for repeated matching. */
export interface CompiledPattern {
  /** The pattern as written. */
  readonly source: string;
  /** Its segments; `*` and `>` are wildcard segments. */
  readonly segments: readonly string[];
  /** True when the pattern has no wildcard: matching is string equality. */
  readonly literal: boolean;
  /**
   * Whether a concrete topic matches. Literal patterns compare strings and `>` checks
   * emptiness, so the common cases never split the topic.
   */
  readonly test: (topic: string) => boolean;
}

/**
 * Splits a pattern and checks its structure; throws a `TypeError` for an empty segment,
 * `>` not in last place, or a wildcard inside a segment. Callers that need the full
 * syntax (characters, length) check `patternError` first.
 */
export function compilePattern(source: string): CompiledPattern {
  const segments = source.split(".");
  for (let i = 0; i < segments.length; i++) {
    const s = segments[i];
    if (s === "") throw new TypeError(`pattern "${source}" has an empty segment`);
    if (s === ">" && i !== segments.length - 1) {
      throw new TypeError(`pattern "${source}": ">" must be the last segment`);
    }
    if (s.length > 1 && (s.includes("*") || s.includes(">"))) {
      throw new TypeError(`pattern "${source}": wildcards must be whole segments`);
    }
  }
  const literal = !segments.some((s) => s === "*" || s === ">");
  const test = source === ">"
    ? (topic: string) => topic.length > 0 && !isInbox(topic)
    : literal
    ? (topic: string) => topic === source
    : (topic: string) => matchSegments(segments, topic.split("."));
  return { source, segments, literal, test };
}

/** True when the concrete `topic` (already split) matches `pattern`. */
export function matchesTopic(pattern: CompiledPattern, topic: readonly string[]): boolean {
  return matchSegments(pattern.segments, topic);
}

/** Whether `topic` matches `pattern` (both assumed valid), without compiling. */
export function topicMatches(pattern: string, topic: string): boolean {
  return matchSegments(pattern.split("."), topic.split("."));
}

/**
 * Whether `topic` is a request inbox (`_inbox.…`): a capability handed to a request's
 * responders, which no wildcard (`>`, `*`) matches, so that neither subscriptions nor
 * history reads see replies meant for someone else.
 */
function isInbox(topic: string): boolean {
  return topic.startsWith("_inbox.");
}

function matchSegments(p: readonly string[], t: readonly string[]): boolean {
  if (t[0] === "_inbox" && (p[0] === "*" || p[0] === ">")) return false;
  for (let i = 0; i < p.length; i++) {
    if (p[i] === ">") return t.length > i;
    if (i >= t.length) return false;
    if (p[i] !== "*" && p[i] !== t[i]) return false;
  }
  return p.length === t.length;
}

/**
 * True when every topic `inner` can match is also matched by `outer` (subset). Used for
 * subscriptions: subscribing to `orders.*` is allowed by an allow of `orders.>`.
 */
export function coversPattern(outer: CompiledPattern, inner: CompiledPattern): boolean {
  const o = outer.segments;
  const n = inner.segments;
  for (let i = 0; i < o.length; i++) {
    const s = o[i];
    if (s === ">") return n.length > i;
    if (i >= n.length) return false;
    const t = n[i];
    if (t === ">") return false;
    if (s === "*") continue;
    if (t === "*" || t !== s) return false;
  }
  return o.length === n.length;
}

/** True when some topic matches both patterns. */
export function overlapsPattern(a: CompiledPattern, b: CompiledPattern): boolean {
  const x = a.segments;
  const y = b.segments;
  const n = Math.min(x.length, y.length);
  for (let i = 0; i < n; i++) {
    if (x[i] === ">" || y[i] === ">") return true;
    if (x[i] === "*" || y[i] === "*") continue;
    if (x[i] !== y[i]) return false;
  }
  return x.length === y.length;
}
