/**
 * Topic patterns in the store: the protocol's one syntax (`runtime/protocol/topic.ts`),
 * with validation errors raised as `StorageError`s so the store's API reports them alike.
 * @module
 */
import {
  compileTopicPattern as compile,
  patternError,
  type TopicMatcher,
} from "../protocol/mod.ts";
import { StorageError } from "./errors.ts";

export type { TopicMatcher };

/** Throws `ERROR_CODE_INVALID_ARGUMENT` unless `pattern` is a well-formed topic pattern. */
export function validateTopicPattern(pattern: string): void {
  const err = patternError(pattern);
  if (err) throw new StorageError(`invalid topic pattern "${pattern}": ${err}`, "INVALID_ARGUMENT");
}

/** Compiles a validated pattern into a matcher. */
export function compileTopicPattern(pattern: string): TopicMatcher {
  validateTopicPattern(pattern);
  return compile(pattern);
}
