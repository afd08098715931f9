/**
 * The keyword-level comparisons of the hop compatibility check (`compat.ts`): types,
 * `const`/`enum`, numeric bounds and string bounds of one producer schema against one
 * consumer schema, with no recursion into subschemas (that stays in `compat.ts`).
 * @module
 */
import { RE2JS } from "re2js";

/** Why a hop is incompatible: where in the payload, and what differs. */
export interface Incompatibility {
  /** JSON pointer into the payload (`""` is the payload itself, `/*` any array item). */
  readonly path: string;
  /** What the producer may send that the consumer refuses. */
  readonly reason: string;
}

/** A schema object. */
export type Obj = Record<string, unknown>;
/** Undefined when compatible, else why not. */
export type Result = Incompatibility | undefined;

/** A JSON object (not an array, not null). */
export function isObj(v: unknown): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Deep equality of JSON values. */
export function equal(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== typeof b || a === null || b === null || typeof a !== "object") return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a as Obj), kb = Object.keys(b as Obj);
  if (ka.length !== kb.length) return false;
  return ka.every((k) => equal((a as Obj)[k], (b as Obj)[k]));
}

/** The JSON type of a value (`integer` for whole numbers). */
export function jsonType(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "array";
  if (typeof v === "number") return Number.isInteger(v) ? "integer" : "number";
  return typeof v;
}

/** The types a schema allows (from `type`, else `const`/`enum`); undefined: any. */
export function typesOf(s: Obj): Set<string> | undefined {
  if (typeof s.type === "string") return new Set([s.type]);
  if (Array.isArray(s.type)) return new Set(s.type as string[]);
  const values = valuesOf(s);
  return values ? new Set(values.map(jsonType)) : undefined;
}

/** The values a schema allows by `const` or `enum`; undefined: not limited so. */
export function valuesOf(s: Obj): unknown[] | undefined {
  if ("const" in s) return [s.const];
  return Array.isArray(s.enum) ? s.enum : undefined;
}

/** Whether the producer may send a value of one of `types`. */
export function mayBe(p: Obj, ...types: string[]): boolean {
  const t = typesOf(p);
  return !t || types.some((x) => t.has(x) || (x === "number" && t.has("integer")));
}

/** The producer's types are within the consumer's. */
export function checkTypes(p: Obj, c: Obj, path: string): Result {
  const ct = typesOf(c);
  if (!ct) return undefined;
  const pt = typesOf(p);
  const want = [...ct].join(", ");
  if (!pt) return { path, reason: `the producer does not constrain the type (consumer: ${want})` };
  for (const t of pt) {
    if (ct.has(t) || (t === "integer" && ct.has("number"))) continue;
    return { path, reason: `type "${t}" is not accepted (consumer: ${want})` };
  }
  return undefined;
}

/** The producer's `const`/`enum` values are within the consumer's. */
export function checkValues(p: Obj, c: Obj, path: string): Result {
  const cv = valuesOf(c);
  if (!cv) return undefined;
  const pv = valuesOf(p);
  if (!pv) {
    return { path, reason: `the producer does not restrict values to ${JSON.stringify(cv)}` };
  }
  for (const v of pv) {
    if (!cv.some((x) => equal(x, v))) {
      return { path, reason: `value ${JSON.stringify(v)} is not in ${JSON.stringify(cv)}` };
    }
  }
  return undefined;
}

/** A numeric bound and whether it is exclusive. */
export interface Bound {
  readonly value: number;
  readonly exclusive: boolean;
}

/** The lower bound a schema sets (from min/exclusive keywords, else its values). */
export function lower(s: Obj, minKey: string, exKey: string, fromValues?: (v: unknown) => number) {
  const bounds: Bound[] = [];
  if (typeof s[minKey] === "number") bounds.push({ value: s[minKey] as number, exclusive: false });
  if (typeof s[exKey] === "number") bounds.push({ value: s[exKey] as number, exclusive: true });
  const vals = valuesOf(s);
  if (fromValues && vals) {
    const nums = vals.map(fromValues).filter((n) => Number.isFinite(n));
    if (nums.length === vals.length && nums.length > 0) {
      bounds.push({ value: Math.min(...nums), exclusive: false });
    }
  }
  // The tightest lower bound.
  return bounds.sort((a, b) => b.value - a.value || (a.exclusive ? -1 : 1))[0];
}

/** The upper bound a schema sets (from max/exclusive keywords, else its values). */
export function upper(s: Obj, maxKey: string, exKey: string, fromValues?: (v: unknown) => number) {
  const bounds: Bound[] = [];
  if (typeof s[maxKey] === "number") bounds.push({ value: s[maxKey] as number, exclusive: false });
  if (typeof s[exKey] === "number") bounds.push({ value: s[exKey] as number, exclusive: true });
  const vals = valuesOf(s);
  if (fromValues && vals) {
    const nums = vals.map(fromValues).filter((n) => Number.isFinite(n));
    if (nums.length === vals.length && nums.length > 0) {
      bounds.push({ value: Math.max(...nums), exclusive: false });
    }
  }
  return bounds.sort((a, b) => a.value - b.value || (a.exclusive ? -1 : 1))[0];
}

/** A bound as text, for a reason. */
export function show(b: Bound | undefined, side: "min" | "max"): string {
  if (!b) return "none";
  return `${side === "min" ? (b.exclusive ? ">" : ">=") : (b.exclusive ? "<" : "<=")} ${b.value}`;
}

/** The producer's bound is within the consumer's (narrower or equal). */
export function within(p: Bound | undefined, c: Bound | undefined, side: "min" | "max"): boolean {
  if (!c) return true;
  if (!p) return false;
  if (p.value === c.value) return p.exclusive || !c.exclusive;
  return side === "min" ? p.value > c.value : p.value < c.value;
}

const asNumber = (v: unknown) => typeof v === "number" ? v : NaN;

/** Compares one pair of bounds of producer and consumer; the first violation. */
export function bounds(
  p: Obj,
  c: Obj,
  path: string,
  what: string,
  keys: [string, string, string, string],
  of?: (v: unknown) => number,
): Result {
  const [minK, exMinK, maxK, exMaxK] = keys;
  const cl = lower(c, minK, exMinK), pl = lower(p, minK, exMinK, of);
  if (!within(pl, cl, "min")) {
    return {
      path,
      reason: `${what} lower bound ${show(pl, "min")} is wider than the consumer's ${
        show(cl, "min")
      }`,
    };
  }
  const cu = upper(c, maxK, exMaxK), pu = upper(p, maxK, exMaxK, of);
  if (!within(pu, cu, "max")) {
    return {
      path,
      reason: `${what} upper bound ${show(pu, "max")} is wider than the consumer's ${
        show(cu, "max")
      }`,
    };
  }
  return undefined;
}

/** Numeric bounds and `multipleOf`, narrower or equal. */
export function checkNumbers(p: Obj, c: Obj, path: string): Result {
  if (!mayBe(p, "number")) return undefined;
  const r = bounds(p, c, path, "numeric", [
    "minimum",
    "exclusiveMinimum",
    "maximum",
    "exclusiveMaximum",
  ], asNumber);
  if (r) return r;
  if (typeof c.multipleOf === "number") {
    const m = c.multipleOf;
    const multiple = (x: number) => Math.abs(x / m - Math.round(x / m)) < 1e-9;
    const pv = valuesOf(p);
    const ok = typeof p.multipleOf === "number"
      ? multiple(p.multipleOf)
      : pv !== undefined && pv.every((v) => typeof v === "number" && multiple(v));
    if (!ok) return { path, reason: `values are not all multiples of ${m}` };
  }
  return undefined;
}

/** String length bounds and `pattern`. */
export function checkStrings(p: Obj, c: Obj, path: string): Result {
  if (!mayBe(p, "string")) return undefined;
  const len = (v: unknown) => typeof v === "string" ? [...v].length : NaN;
  const r = bounds(p, c, path, "length", ["minLength", "", "maxLength", ""], len);
  if (r) return r;
  if (typeof c.pattern === "string" && p.pattern !== c.pattern) {
    const re = RE2JS.compile(c.pattern);
    const pv = valuesOf(p);
    if (!pv || !pv.every((v) => typeof v === "string" && re.matcher(v).find())) {
      return { path, reason: `strings are not shown to match the pattern ${c.pattern}` };
    }
  }
  return undefined;
}
