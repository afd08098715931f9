/**
 * Pattern algebra for permissions: patterns compiled once into segments, matched against
 * topics without allocation, and compared with each other (covers, overlaps). The syntax
 * is the protocol's (`topic.ts`).
 * @module
 */
import { matchSegments } from "./topic.ts";

/** A pattern split into segments, ready for repeated matching. */
export interface CompiledPattern {
  readonly source: string;
  readonly segments: readonly string[];
  /** True when the pattern has no wildcard: matching is string equality. */
  readonly literal: boolean;
}

/** Splits and validates a pattern; throws a `TypeError` for `>` not in last place or empty segments. */
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
  return { source, segments, literal };
}

/** True when the concrete `topic` (already split) matches `pattern`. */
export function matchesTopic(pattern: CompiledPattern, topic: readonly string[]): boolean {
  return matchSegments(pattern.segments, topic);
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
