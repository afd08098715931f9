/**
 * Where a policy applies: which realities, which topics, in which order.
 * @module
 */

/** A policy's binding. */
export interface PolicyBinding {
  /** Reality ids, or `["*"]` for every reality. */
  realities: string[];
  /** Topic patterns (`*` one segment, final `>` one or more). */
  topics: string[];
  /** Position in the chain: lower runs first; ties run in name order. */
  order: number;
}

/** Every reality, every topic, order 100. */
export const DEFAULT_BINDING: Readonly<PolicyBinding> = Object.freeze({
  realities: ["*"],
  topics: [">"],
  order: 100,
});

const SEGMENT = /^[a-z0-9_-]+$/;
const REALITY = /^[a-z0-9_-]{1,64}$/;

/** Why a topic pattern is invalid, or null. */
export function patternProblem(pattern: string): string | null {
  if (pattern.length === 0 || pattern.length > 256) return "a topic pattern has 1 to 256 bytes";
  const segs = pattern.split(".");
  for (let i = 0; i < segs.length; i++) {
    const s = segs[i];
    if (s === ">" && i === segs.length - 1) continue;
    if (s === "*") continue;
    if (!SEGMENT.test(s)) return `invalid segment "${s}" in topic pattern "${pattern}"`;
  }
  return null;
}

/** Whether `topic` matches `pattern`. */
export function topicMatches(pattern: string, topic: string): boolean {
  if (pattern === ">") return topic.length > 0;
  const p = pattern.split(".");
  const t = topic.split(".");
  for (let i = 0; i < p.length; i++) {
    if (p[i] === ">" && i === p.length - 1) return t.length > i;
    if (i >= t.length) return false;
    if (p[i] !== "*" && p[i] !== t[i]) return false;
  }
  return p.length === t.length;
}

/** Whether a binding covers (reality, topic). */
export function bindingMatches(b: PolicyBinding, reality: string, topic: string): boolean {
  if (!b.realities.includes("*") && !b.realities.includes(reality)) return false;
  return b.topics.some((p) => topicMatches(p, topic));
}

/**
 * Completes and checks a binding given in part. Throws `TypeError` with what is wrong.
 */
export function normalizeBinding(input: Partial<PolicyBinding>): PolicyBinding {
  const realities = input.realities && input.realities.length > 0
    ? [...new Set(input.realities)]
    : [...DEFAULT_BINDING.realities];
  for (const r of realities) {
    if (r !== "*" && !REALITY.test(r)) {
      throw new TypeError(`invalid reality "${r}": use [a-z0-9_-], at most 64 bytes, or *`);
    }
  }
  const topics = input.topics && input.topics.length > 0
    ? [...new Set(input.topics)]
    : [...DEFAULT_BINDING.topics];
  for (const t of topics) {
    const problem = patternProblem(t);
    if (problem) throw new TypeError(problem);
  }
  const order = input.order ?? DEFAULT_BINDING.order;
  if (!Number.isSafeInteger(order) || order < -1_000_000 || order > 1_000_000) {
    throw new TypeError("order must be an integer between -1000000 and 1000000");
  }
  return { realities: realities.sort(), topics: topics.sort(), order };
}
