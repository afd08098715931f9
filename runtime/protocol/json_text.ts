/**
 * Duplicate keys in JSON text. `JSON.parse` keeps the last copy of a repeated key while
 * other readers (a policy's JSON reader, a proxy) may keep the first, so a frame with a
 * repeated key means different things to different readers: the proto3 JSON mapping
 * refuses it, and so does the node. `JSON.parse` stays the parser (native speed); this
 * scan runs after it succeeded, over text known to be valid JSON, and skips string
 * contents with `indexOf` so a large base64 payload costs about a memchr.
 * @module
 */

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

function joinPath(segments: readonly string[]): string {
  let out = "";
  for (const s of segments) out += s === "[]" ? s : out === "" ? s : `.${s}`;
  return out;
}

/**
 * The first key that appears twice in one object of `text` (valid JSON), as a dotted path
 * (`publish.pulse.topic`), or undefined when every object's keys are distinct. Keys are
 * compared after unescaping, so `"a"` and `"\u0061"` are the same key.
 *
 * @example
 * ```ts
 * import { duplicateKey } from "./json_text.ts";
 *
 * duplicateKey('{"a":{"b":1,"b":2}}'); // "a.b"
 * duplicateKey('{"a":1}'); // undefined
 * ```
 */
export function duplicateKey(text: string): string | undefined {
  // One entry per open container: the keys seen (objects) or null (arrays).
  const keys: (Set<string> | null)[] = [];
  // The key last seen at each depth, for naming the path.
  const path: string[] = [];
  let nextBackslash = text.indexOf("\\");
  const n = text.length;
  let i = 0;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      // Find the closing quote: one not preceded by an odd run of backslashes.
      let end = text.indexOf('"', i + 1);
      while (end !== -1 && text.charCodeAt(end - 1) === BACKSLASH) {
        let run = 0;
        for (let k = end - 1; text.charCodeAt(k) === BACKSLASH; k--) run++;
        if (run % 2 === 0) break;
        end = text.indexOf('"', end + 1);
      }
      if (end === -1) return undefined; // not valid JSON: JSON.parse said why already
      while (nextBackslash !== -1 && nextBackslash < i) {
        nextBackslash = text.indexOf("\\", i);
      }
      const escaped = nextBackslash !== -1 && nextBackslash < end;
      let after = end + 1;
      while (after < n && isSpace(text.charCodeAt(after))) after++;
      const depth = keys.length - 1;
      const own = depth >= 0 ? keys[depth] : null;
      if (own && text.charCodeAt(after) === COLON) {
        const key = escaped ? JSON.parse(text.slice(i, end + 1)) as string : text.slice(i + 1, end);
        path[depth] = key;
        if (own.has(key)) return joinPath(path.slice(0, depth + 1));
        own.add(key);
      }
      i = end + 1;
      continue;
    }
    if (c === OPEN_OBJECT) keys.push(new Set());
    else if (c === OPEN_ARRAY) {
      path[keys.length] = "[]";
      keys.push(null);
    } else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) {
      keys.pop();
      path.length = keys.length;
    }
    i++;
  }
  return undefined;
}
