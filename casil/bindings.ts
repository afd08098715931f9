/**
 * Where a policy applies: which realities, which topics, in which order. Topic and
 * reality syntax is the protocol's (`runtime/protocol/topic.ts`).
 * @module
 */
import { patternError, realityError, topicMatches } from "../runtime/protocol/mod.ts";

export { topicMatches };

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
    if (r !== "*" && realityError(r)) {
      throw new TypeError(`invalid reality "${r}": use [a-z0-9_-], at most 64 bytes, or *`);
    }
  }
  const topics = input.topics && input.topics.length > 0
    ? [...new Set(input.topics)]
    : [...DEFAULT_BINDING.topics];
  for (const t of topics) {
    const problem = patternError(t);
    if (problem) throw new TypeError(problem);
  }
  const order = input.order ?? DEFAULT_BINDING.order;
  if (!Number.isSafeInteger(order) || order < -1_000_000 || order > 1_000_000) {
    throw new TypeError("order must be an integer between -1000000 and 1000000");
  }
  return { realities: realities.sort(), topics: topics.sort(), order };
}
