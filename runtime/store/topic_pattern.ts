/**
 * NATS-style topic patterns: segments separated by `.`, `*` matches exactly one segment,
 * `>` (only as the last segment) matches one or more segments.
 * @module
 */
import { StorageError } from "./errors.ts";

/** Tests a topic against a compiled pattern. */
export type TopicMatcher = (topic: string) => boolean;

const SEGMENT = /^[A-Za-z0-9_-]+$/;

/** Throws `ERROR_CODE_INVALID_ARGUMENT` unless `pattern` is a well-formed topic pattern. */
export function validateTopicPattern(pattern: string): void {
  const segments = pattern.split(".");
  segments.forEach((segment, i) => {
    if (segment === "*") return;
    if (segment === ">" && i === segments.length - 1) return;
    if (!SEGMENT.test(segment)) {
      throw new StorageError(
        `invalid topic pattern "${pattern}": segment ${
          i + 1
        } must be [A-Za-z0-9_-]+, "*" or a final ">"`,
        "INVALID_ARGUMENT",
      );
    }
  });
}

/** Compiles a validated pattern into a matcher. */
export function compileTopicPattern(pattern: string): TopicMatcher {
  validateTopicPattern(pattern);
  if (pattern === ">") return (topic) => topic.length > 0;
  if (!pattern.includes("*") && !pattern.includes(">")) return (topic) => topic === pattern;
  // Segments are [A-Za-z0-9_-] so the only character to escape is the separator.
  const source = pattern.split(".").map((segment) =>
    segment === "*" ? "[^.]+" : segment === ">" ? ".+" : segment
  ).join("\\.");
  const regex = new RegExp(`^${source}$`);
  return (topic) => regex.test(topic);
}
