// Built-in policy: validates JSON payloads against a JSON Schema chosen by topic.
//
// Config: {"schemas": {"<topic pattern>": <schema>, ...}}; the first pattern (in the order
// given) that matches the topic selects the schema; topics without one pass. A payload that is
// not JSON, or does not validate, is denied with the first error found.
//
// Supported keywords (a subset of draft 2020-12): type (name or list; "integer" included),
// properties, required, additionalProperties (boolean or schema), items (schema), enum, const,
// minimum, maximum, exclusiveMinimum, exclusiveMaximum, minLength, maxLength (code points),
// minItems, maxItems, allOf, anyOf, oneOf, not. Unknown keywords are ignored, as the spec says.
import {
  Context,
  Verdict,
  allow,
  deny,
  JsonKind,
  JsonParser,
  JsonValue,
  jsonObjectError,
  parseJsonString,
  topicMatches,
} from "../sdk/assembly/index";

let patterns: string[] = [];
let schemas: JsonValue[] = [];

export function configure(config: string): string | null {
  const bad = jsonObjectError(config);
  if (bad !== null) return "config " + bad;
  const c = parseJsonString(config)!;
  const s = c.get("schemas");
  if (s === null) return null;
  if (s.kind != JsonKind.Object) return "schemas must be an object of topic pattern -> schema";
  for (let i = 0; i < s.keys.length; i++) {
    const v = s.values[i];
    if (v.kind != JsonKind.Object && v.kind != JsonKind.Bool) {
      return "the schema for " + s.keys[i] + " must be an object or a boolean";
    }
    patterns.push(s.keys[i]);
    schemas.push(v);
  }
  return null;
}

function equal(a: JsonValue, b: JsonValue): bool {
  if (a.kind != b.kind) return false;
  switch (a.kind) {
    case JsonKind.Null:
      return true;
    case JsonKind.Bool:
      return a.bool == b.bool;
    case JsonKind.Number:
      return a.num == b.num;
    case JsonKind.String:
      return a.str == b.str;
    case JsonKind.Array: {
      if (a.items.length != b.items.length) return false;
      for (let i = 0; i < a.items.length; i++) if (!equal(a.items[i], b.items[i])) return false;
      return true;
    }
    default: {
      if (a.keys.length != b.keys.length) return false;
      for (let i = 0; i < a.keys.length; i++) {
        const other = b.get(a.keys[i]);
        if (other === null || !equal(a.values[i], other)) return false;
      }
      return true;
    }
  }
}

function hasType(v: JsonValue, t: string): bool {
  if (t == "integer") return v.kind == JsonKind.Number && Math.floor(v.num) == v.num && isFinite(v.num);
  return v.typeName() == t;
}

function codePoints(s: string): i32 {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0xdc00 || c > 0xdfff) n++;
  }
  return n;
}

function num(schema: JsonValue, key: string): JsonValue | null {
  const v = schema.get(key);
  return v !== null && v.kind == JsonKind.Number ? v : null;
}

/** The first validation error of `v` against `schema` at `path`, or null. */
function check(v: JsonValue, schema: JsonValue, path: string, depth: i32): string | null {
  if (depth > 64) return path + ": schema nesting too deep";
  if (schema.kind == JsonKind.Bool) return schema.bool ? null : path + ": not allowed";
  if (schema.kind != JsonKind.Object) return null;
  const type = schema.get("type");
  if (type !== null) {
    let ok = false;
    let names = "";
    if (type.kind == JsonKind.String) {
      ok = hasType(v, type.str);
      names = type.str;
    } else if (type.kind == JsonKind.Array) {
      for (let i = 0; i < type.items.length; i++) {
        const t = type.items[i].str;
        names += (i > 0 ? " or " : "") + t;
        if (hasType(v, t)) ok = true;
      }
    }
    if (!ok) return path + ": expected " + names + ", got " + v.typeName();
  }
  const en = schema.get("enum");
  if (en !== null && en.kind == JsonKind.Array) {
    let found = false;
    for (let i = 0; i < en.items.length && !found; i++) found = equal(v, en.items[i]);
    if (!found) return path + ": not one of the allowed values";
  }
  const cst = schema.get("const");
  if (cst !== null && !equal(v, cst)) return path + ": not the required constant";
  if (v.kind == JsonKind.Number) {
    let b = num(schema, "minimum");
    if (b !== null && v.num < b.num) return path + ": below the minimum " + b.num.toString();
    b = num(schema, "maximum");
    if (b !== null && v.num > b.num) return path + ": above the maximum " + b.num.toString();
    b = num(schema, "exclusiveMinimum");
    if (b !== null && v.num <= b.num) return path + ": not above " + b.num.toString();
    b = num(schema, "exclusiveMaximum");
    if (b !== null && v.num >= b.num) return path + ": not below " + b.num.toString();
  } else if (v.kind == JsonKind.String) {
    const n = codePoints(v.str);
    let b = num(schema, "minLength");
    if (b !== null && <f64>n < b.num) return path + ": shorter than " + b.num.toString();
    b = num(schema, "maxLength");
    if (b !== null && <f64>n > b.num) return path + ": longer than " + b.num.toString();
  } else if (v.kind == JsonKind.Array) {
    let b = num(schema, "minItems");
    if (b !== null && <f64>v.items.length < b.num) return path + ": fewer than " + b.num.toString() + " items";
    b = num(schema, "maxItems");
    if (b !== null && <f64>v.items.length > b.num) return path + ": more than " + b.num.toString() + " items";
    const items = schema.get("items");
    if (items !== null) {
      for (let i = 0; i < v.items.length; i++) {
        const e = check(v.items[i], items, path + "[" + i.toString() + "]", depth + 1);
        if (e !== null) return e;
      }
    }
  } else if (v.kind == JsonKind.Object) {
    const req = schema.get("required");
    if (req !== null && req.kind == JsonKind.Array) {
      for (let i = 0; i < req.items.length; i++) {
        if (v.get(req.items[i].str) === null) return path + ": missing required " + req.items[i].str;
      }
    }
    const props = schema.get("properties");
    const extra = schema.get("additionalProperties");
    for (let i = 0; i < v.keys.length; i++) {
      const key = v.keys[i];
      const sub = props !== null && props.kind == JsonKind.Object ? props.get(key) : null;
      if (sub !== null) {
        const e = check(v.values[i], sub, path + "." + key, depth + 1);
        if (e !== null) return e;
      } else if (extra !== null) {
        if (extra.kind == JsonKind.Bool && !extra.bool) return path + ": unexpected property " + key;
        const e = check(v.values[i], extra, path + "." + key, depth + 1);
        if (e !== null) return e;
      }
    }
  }
  const all = schema.get("allOf");
  if (all !== null && all.kind == JsonKind.Array) {
    for (let i = 0; i < all.items.length; i++) {
      const e = check(v, all.items[i], path, depth + 1);
      if (e !== null) return e;
    }
  }
  const any = schema.get("anyOf");
  if (any !== null && any.kind == JsonKind.Array) {
    let ok = false;
    for (let i = 0; i < any.items.length && !ok; i++) ok = check(v, any.items[i], path, depth + 1) === null;
    if (!ok) return path + ": matches none of anyOf";
  }
  const one = schema.get("oneOf");
  if (one !== null && one.kind == JsonKind.Array) {
    let count = 0;
    for (let i = 0; i < one.items.length; i++) if (check(v, one.items[i], path, depth + 1) === null) count++;
    if (count != 1) return path + ": matches " + count.toString() + " of oneOf, expected exactly 1";
  }
  const not = schema.get("not");
  if (not !== null && check(v, not, path, depth + 1) === null) return path + ": matches the `not` schema";
  return null;
}

export function evaluate(ctx: Context, payload: Uint8Array): Verdict {
  for (let i = 0; i < patterns.length; i++) {
    if (!topicMatches(patterns[i], ctx.topic)) continue;
    const parser = new JsonParser(payload);
    const doc = parser.parse();
    if (doc === null) {
      const why = parser.error;
      return deny("schema: payload is not JSON (" + (why === null ? "invalid" : why) + ")");
    }
    const e = check(doc, schemas[i], "$", 0);
    return e === null ? allow() : deny("schema: " + e);
  }
  return allow();
}
