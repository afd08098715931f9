// Helpers that policies need often.

/** Decodes UTF-8 bytes. */
export function bytesToString(bytes: Uint8Array): string {
  return String.UTF8.decodeUnsafe(bytes.dataStart, <usize>bytes.length);
}

/** Encodes a string as UTF-8 bytes. */
export function stringToBytes(s: string): Uint8Array {
  return Uint8Array.wrap(String.UTF8.encode(s));
}

/** The first index of `needle` in `hay` at or after `from`, or -1. */
export function indexOf(hay: Uint8Array, needle: Uint8Array, from: i32 = 0): i32 {
  const n = needle.length;
  if (n == 0) return from;
  const first = needle[0];
  const last = hay.length - n;
  for (let i = from; i <= last; i++) {
    if (hay[i] != first) continue;
    let j = 1;
    while (j < n && hay[i + j] == needle[j]) j++;
    if (j == n) return i;
  }
  return -1;
}

/**
 * Whether `topic` matches a subscription-style pattern: `*` matches one segment, a final `>`
 * matches one or more segments.
 */
export function topicMatches(pattern: string, topic: string): bool {
  const p = pattern.split(".");
  const t = topic.split(".");
  for (let i = 0; i < p.length; i++) {
    const seg = p[i];
    if (seg == ">" && i == p.length - 1) return t.length > i;
    if (i >= t.length) return false;
    if (seg != "*" && seg != t[i]) return false;
  }
  return p.length == t.length;
}
