/**
 * Topic and pattern syntax, the one definition every layer uses. Topics are
 * `domain.subdomain.verb`: 1-16 segments of `[a-z0-9_-]`, at most 256 bytes. Patterns may
 * use `*` for one segment and a final `>` for one or more remaining segments, as in NATS.
 * Matching lives in `pattern.ts`.
 * @module
 */

/** Maximum topic or pattern length in bytes. */
export const MAX_TOPIC_BYTES = 256;
/** Maximum number of segments. */
export const MAX_TOPIC_SEGMENTS = 16;

const SEGMENT = /^[a-z0-9_-]+$/;

/** Why a topic or pattern was refused, or `null` when it is valid. */
export function topicError(topic: string): string | null {
  return check(topic, false);
}

/** Why a pattern was refused, or `null` when it is valid. */
export function patternError(pattern: string): string | null {
  return check(pattern, true);
}

function check(value: string, wildcards: boolean): string | null {
  const what = wildcards ? "pattern" : "topic";
  if (typeof value !== "string" || value.length === 0) return `${what} is empty`;
  if (value.length > MAX_TOPIC_BYTES) {
    return `${what} is longer than ${MAX_TOPIC_BYTES} bytes`;
  }
  const segments = value.split(".");
  if (segments.length > MAX_TOPIC_SEGMENTS) {
    return `${what} has more than ${MAX_TOPIC_SEGMENTS} segments`;
  }
  for (let i = 0; i < segments.length; i++) {
    const s = segments[i];
    if (wildcards && s === "*") continue;
    if (wildcards && s === ">") {
      if (i !== segments.length - 1) return "'>' may only be the last segment of a pattern";
      continue;
    }
    if (!SEGMENT.test(s)) {
      return s.length === 0
        ? `${what} has an empty segment`
        : `${what} segment '${s}' must match [a-z0-9_-]+${wildcards ? " (or be * or >)" : ""}`;
    }
  }
  return null;
}

/** Reality ids follow the segment syntax, at most 64 bytes; `null` when valid. */
export function realityError(reality: string): string | null {
  if (typeof reality !== "string" || reality.length === 0) return "reality is empty";
  if (reality.length > 64) return "reality id is longer than 64 bytes";
  if (!SEGMENT.test(reality)) return `reality '${reality}' must match [a-z0-9_-]+`;
  return null;
}
