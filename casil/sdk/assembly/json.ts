// A small JSON reader for policies: parses UTF-8 bytes into a tree of `JsonValue`s.
// Nesting is limited so that a hostile payload cannot exhaust the stack.
//
// An object that names a member twice is refused ("duplicate member name"): JSON parsers
// disagree on which copy wins (JavaScript's `JSON.parse` and Python keep the last, others the
// first), so a policy that read one copy could pass `{"joules":40,"joules":60}` on to a
// consumer that reads 60. Refusing both is the only reading every consumer agrees with.

/** The kinds of JSON values. */
export enum JsonKind {
  Null = 0,
  Bool = 1,
  Number = 2,
  String = 3,
  Array = 4,
  Object = 5,
}

/** One parsed JSON value; the fields that do not apply to its kind are empty. */
export class JsonValue {
  kind: JsonKind = JsonKind.Null;
  bool: bool = false;
  num: f64 = 0;
  str: string = "";
  items: JsonValue[] = [];
  keys: string[] = [];
  values: JsonValue[] = [];

  /** The member `key` of an object, or null. */
  get(key: string): JsonValue | null {
    for (let i = 0; i < this.keys.length; i++) {
      if (this.keys[i] == key) return this.values[i];
    }
    return null;
  }

  /** The JSON type name as JSON Schema spells it (`integer` is reported as `number`). */
  typeName(): string {
    switch (this.kind) {
      case JsonKind.Null:
        return "null";
      case JsonKind.Bool:
        return "boolean";
      case JsonKind.Number:
        return "number";
      case JsonKind.String:
        return "string";
      case JsonKind.Array:
        return "array";
      default:
        return "object";
    }
  }
}

const MAX_DEPTH = 64;

/** Up to this many members, duplicates are found by scanning; beyond, with a set. */
const SCAN_KEYS = 16;

/** Parses JSON from UTF-8 bytes. */
export class JsonParser {
  pos: i32 = 0;
  error: string | null = null;

  constructor(public bytes: Uint8Array) {}

  /** The parsed document, or null with `error` set. */
  parse(): JsonValue | null {
    const v = this.value(0);
    if (v === null) return null;
    this.skipSpace();
    if (this.pos != this.bytes.length) return this.fail("trailing characters");
    return v;
  }

  private fail(message: string): JsonValue | null {
    if (this.error === null) this.error = message + " at byte " + this.pos.toString();
    return null;
  }

  private skipSpace(): void {
    const b = this.bytes;
    while (this.pos < b.length) {
      const c = b[this.pos];
      if (c != 0x20 && c != 0x0a && c != 0x0d && c != 0x09) break;
      this.pos++;
    }
  }

  private literal(word: string): bool {
    const n = word.length;
    if (this.pos + n > this.bytes.length) return false;
    for (let i = 0; i < n; i++) {
      if (<i32>this.bytes[this.pos + i] != word.charCodeAt(i)) return false;
    }
    this.pos += n;
    return true;
  }

  private value(depth: i32): JsonValue | null {
    if (depth > MAX_DEPTH) return this.fail("nesting too deep");
    this.skipSpace();
    if (this.pos >= this.bytes.length) return this.fail("unexpected end");
    const c = this.bytes[this.pos];
    const v = new JsonValue();
    if (c == 0x7b) return this.object(depth);
    if (c == 0x5b) return this.array(depth);
    if (c == 0x22) {
      const s = this.string();
      if (s === null) return null;
      v.kind = JsonKind.String;
      v.str = s;
      return v;
    }
    if (this.literal("true")) {
      v.kind = JsonKind.Bool;
      v.bool = true;
      return v;
    }
    if (this.literal("false")) {
      v.kind = JsonKind.Bool;
      return v;
    }
    if (this.literal("null")) return v;
    return this.number();
  }

  private number(): JsonValue | null {
    const b = this.bytes;
    const start = this.pos;
    if (this.pos < b.length && b[this.pos] == 0x2d) this.pos++;
    let digits = 0;
    while (this.pos < b.length) {
      const c = b[this.pos];
      if ((c >= 0x30 && c <= 0x39) || c == 0x2e || c == 0x65 || c == 0x45 || c == 0x2b || c == 0x2d) {
        if (c >= 0x30 && c <= 0x39) digits++;
        this.pos++;
      } else break;
    }
    if (digits == 0) return this.fail("unexpected character");
    const text = String.UTF8.decodeUnsafe(b.dataStart + <usize>start, <usize>(this.pos - start));
    const n = parseFloat(text);
    if (isNaN(n)) return this.fail("bad number");
    const v = new JsonValue();
    v.kind = JsonKind.Number;
    v.num = n;
    return v;
  }

  private string(): string | null {
    const b = this.bytes;
    this.pos++; // opening quote
    let out = "";
    let runStart = this.pos;
    while (this.pos < b.length) {
      const c = b[this.pos];
      if (c == 0x22) {
        out += String.UTF8.decodeUnsafe(b.dataStart + <usize>runStart, <usize>(this.pos - runStart));
        this.pos++;
        return out;
      }
      if (c < 0x20) {
        this.fail("control character in string");
        return null;
      }
      if (c == 0x5c) {
        out += String.UTF8.decodeUnsafe(b.dataStart + <usize>runStart, <usize>(this.pos - runStart));
        this.pos++;
        if (this.pos >= b.length) break;
        const e = b[this.pos];
        if (e == 0x6e) out += "\n";
        else if (e == 0x74) out += "\t";
        else if (e == 0x72) out += "\r";
        else if (e == 0x62) out += "\b";
        else if (e == 0x66) out += "\f";
        else if (e == 0x75) {
          if (this.pos + 4 >= b.length) break;
          let code = 0;
          for (let i = 1; i <= 4; i++) {
            const h = <i32>b[this.pos + i];
            let d = -1;
            if (h >= 0x30 && h <= 0x39) d = h - 0x30;
            else if (h >= 0x61 && h <= 0x66) d = h - 0x61 + 10;
            else if (h >= 0x41 && h <= 0x46) d = h - 0x41 + 10;
            if (d < 0) {
              this.fail("bad unicode escape");
              return null;
            }
            code = code * 16 + d;
          }
          out += String.fromCharCode(code);
          this.pos += 4;
        } else out += String.fromCharCode(<i32>e); // \" \\ \/
        this.pos++;
        runStart = this.pos;
        continue;
      }
      this.pos++;
    }
    this.fail("unterminated string");
    return null;
  }

  private array(depth: i32): JsonValue | null {
    this.pos++;
    const v = new JsonValue();
    v.kind = JsonKind.Array;
    this.skipSpace();
    if (this.pos < this.bytes.length && this.bytes[this.pos] == 0x5d) {
      this.pos++;
      return v;
    }
    while (true) {
      const item = this.value(depth + 1);
      if (item === null) return null;
      v.items.push(item);
      this.skipSpace();
      if (this.pos >= this.bytes.length) return this.fail("unterminated array");
      const c = this.bytes[this.pos++];
      if (c == 0x5d) return v;
      if (c != 0x2c) return this.fail("expected , or ]");
    }
  }

  private duplicate(key: string): JsonValue | null {
    return this.fail("duplicate member name \"" + key + "\"");
  }

  private object(depth: i32): JsonValue | null {
    this.pos++;
    const v = new JsonValue();
    v.kind = JsonKind.Object;
    let seen: Set<string> | null = null;
    this.skipSpace();
    if (this.pos < this.bytes.length && this.bytes[this.pos] == 0x7d) {
      this.pos++;
      return v;
    }
    while (true) {
      this.skipSpace();
      if (this.pos >= this.bytes.length || this.bytes[this.pos] != 0x22) {
        return this.fail("expected a member name");
      }
      const key = this.string();
      if (key === null) return null;
      this.skipSpace();
      if (this.pos >= this.bytes.length || this.bytes[this.pos] != 0x3a) return this.fail("expected :");
      this.pos++;
      if (seen !== null) {
        if (seen.has(key)) return this.duplicate(key);
        seen.add(key);
      } else {
        for (let i = 0; i < v.keys.length; i++) {
          if (v.keys[i] == key) return this.duplicate(key);
        }
        if (v.keys.length == SCAN_KEYS) {
          seen = new Set<string>();
          for (let i = 0; i < v.keys.length; i++) seen.add(v.keys[i]);
          seen.add(key);
        }
      }
      const item = this.value(depth + 1);
      if (item === null) return null;
      v.keys.push(key);
      v.values.push(item);
      this.skipSpace();
      if (this.pos >= this.bytes.length) return this.fail("unterminated object");
      const c = this.bytes[this.pos++];
      if (c == 0x7d) return v;
      if (c != 0x2c) return this.fail("expected , or }");
    }
  }
}

/**
 * Why `text` is not a JSON object (invalid JSON, a member named twice, another kind of
 * value), or null when it is one: what `configure` answers for a bad config.
 */
export function jsonObjectError(text: string): string | null {
  const parser = new JsonParser(Uint8Array.wrap(String.UTF8.encode(text)));
  const v = parser.parse();
  if (v === null) {
    const why = parser.error;
    return "is not valid JSON (" + (why === null ? "invalid" : why) + ")";
  }
  return v.kind == JsonKind.Object ? null : "must be a JSON object";
}

/** Parses `text` as JSON; null when it is not valid JSON. */
export function parseJsonString(text: string): JsonValue | null {
  return new JsonParser(Uint8Array.wrap(String.UTF8.encode(text))).parse();
}
