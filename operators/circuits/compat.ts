/**
 * Publication-time schema compatibility of one circuit hop: is every payload the producer's
 * `output_schema` allows also allowed by the consumer's `input_schema`? A sound, conservative
 * approximation of schema inclusion for the JSON Schema 2020-12 keywords circuits use:
 * types (`integer` within `number`), `const`/`enum` (narrower or equal), numeric bounds
 * (`minimum`, `maximum`, their exclusive forms, `multipleOf`), string bounds (`minLength`,
 * `maxLength`, `pattern`), objects (`required` produced, `properties` recursively,
 * `additionalProperties`, `min/maxProperties`), arrays (`items`, `prefixItems`,
 * `min/maxItems`, `uniqueItems`), `allOf`/`anyOf`/`oneOf`, and local `$ref`s (`#/...`,
 * resolved; any other `$ref` is refused). A consumer keyword the checker cannot reason about
 * (`not`, `if`, `contains`, ...) is refused unless both schemas are identical there: a
 * wiring is accepted only when the checker can show it is safe.
 *
 * A consumer's optional property that the producer does not describe is accepted (the
 * run-time check of each hop catches a bad value); a required one is not.
 * @module
 */
import type { JsonSchema } from "../../runtime/spine/mod.ts";
import {
  bounds,
  checkNumbers,
  checkStrings,
  checkTypes,
  checkValues,
  equal,
  type Incompatibility,
  isObj,
  mayBe,
  type Obj,
  type Result,
  typesOf,
} from "./compat_keywords.ts";

export type { Incompatibility } from "./compat_keywords.ts";

/** Keywords that say nothing about validity. */
const ANNOTATIONS = new Set([
  "$schema",
  "$id",
  "$comment",
  "$defs",
  "definitions",
  "$anchor",
  "$dynamicAnchor",
  "title",
  "description",
  "default",
  "examples",
  "deprecated",
  "readOnly",
  "writeOnly",
  "format",
  "contentMediaType",
  "contentEncoding",
  "contentSchema",
]);

/** Consumer keywords the checker does not reason about: refused unless identical. */
const UNCHECKED = [
  "not",
  "if",
  "then",
  "else",
  "dependentSchemas",
  "dependentRequired",
  "unevaluatedProperties",
  "unevaluatedItems",
  "contains",
  "minContains",
  "maxContains",
  "propertyNames",
  "patternProperties",
  "$dynamicRef",
];

/** Deepest nesting followed (a recursive `$ref` ends here, refused). */
const MAX_DEPTH = 48;

/**
 * Most comparisons of one check. Alternatives on both sides multiply (`anyOf` in `anyOf`,
 * nested), and the check runs on the node's event loop: past this it refuses rather than
 * stall the node.
 */
export const MAX_COMPAT_STEPS = 5_000;

interface Ctx {
  readonly pRoot: JsonSchema;
  readonly cRoot: JsonSchema;
  readonly sameRoots: boolean;
  readonly depth: number;
  /** Comparisons made so far (shared by the whole check). */
  readonly steps: { n: number };
}

/**
 * Checks that every payload `producer` allows is allowed by `consumer`; undefined when it
 * can show so, else the first incompatibility found. An absent consumer schema accepts
 * everything; an absent producer schema is compatible only with such a consumer. Both are
 * assumed to be valid JSON Schemas (compile them first: `compileCard`).
 *
 * @example
 * ```ts
 * import { checkCompatible } from "./compat.ts";
 *
 * checkCompatible({ type: "integer", minimum: 0 }, { type: "number" }); // undefined
 * checkCompatible({ type: "number" }, { type: "integer" });
 * // { path: "", reason: 'type "number" is not accepted (consumer: integer)' }
 * ```
 */
export function checkCompatible(
  producer: JsonSchema | undefined,
  consumer: JsonSchema | undefined,
): Incompatibility | undefined {
  if (consumer === undefined) return undefined;
  if (producer === undefined) {
    return trivial(consumer)
      ? undefined
      : { path: "", reason: "the producer declares no output_schema" };
  }
  const steps = { n: 0 };
  const r = check(producer, consumer, "", {
    pRoot: producer,
    cRoot: consumer,
    sameRoots: equal(producer, consumer),
    depth: 0,
    steps,
  });
  // Past the budget every branch fails: say so, not which branch happened to fail last.
  if (steps.n > MAX_COMPAT_STEPS) {
    return {
      path: "",
      reason: `the schemas take more than ${MAX_COMPAT_STEPS} comparisons to check`,
    };
  }
  return r;
}

/** A schema that accepts everything. */
function trivial(s: unknown): boolean {
  if (s === true || s === undefined) return true;
  if (!isObj(s)) return false;
  return Object.keys(s).every((k) => ANNOTATIONS.has(k));
}

/** Resolves `$ref` (local JSON pointers only) into a schema without one. */
function deref(
  s: unknown,
  root: JsonSchema,
  path: string,
  who: string,
): { s: Obj | boolean } | { fail: Incompatibility } {
  let cur = s;
  for (let hops = 0; isObj(cur) && typeof cur.$ref === "string"; hops++) {
    if (hops > MAX_DEPTH) return { fail: { path, reason: `${who} schema: $ref chain too long` } };
    const ref = cur.$ref as string;
    if (ref !== "#" && !ref.startsWith("#/")) {
      return {
        fail: {
          path,
          reason: `${who} schema: $ref ${JSON.stringify(ref)} is not a local JSON pointer`,
        },
      };
    }
    let target: unknown = root;
    const parts = ref === "#" ? [] : ref.slice(2).split("/");
    for (const raw of parts) {
      const key = decodeURIComponent(raw).replaceAll("~1", "/").replaceAll("~0", "~");
      target = isObj(target) || Array.isArray(target) ? (target as Obj)[key] : undefined;
      if (target === undefined) break;
    }
    if (target === undefined || (typeof target !== "boolean" && !isObj(target))) {
      return {
        fail: { path, reason: `${who} schema: $ref ${JSON.stringify(ref)} does not resolve` },
      };
    }
    const { $ref: _, ...rest } = cur;
    if (typeof target === "boolean") {
      if (Object.keys(rest).some((k) => !ANNOTATIONS.has(k))) {
        return { fail: { path, reason: `${who} schema: $ref to a boolean beside keywords` } };
      }
      return { s: target };
    }
    const overlap = Object.keys(rest).filter((k) => !ANNOTATIONS.has(k) && k in target);
    if (overlap.length > 0) {
      return {
        fail: {
          path,
          reason: `${who} schema: keyword "${overlap[0]}" both beside a $ref and in its target`,
        },
      };
    }
    cur = { ...target, ...rest };
  }
  return { s: cur as Obj | boolean };
}

function check(pIn: unknown, cIn: unknown, path: string, ctx: Ctx): Result {
  if (ctx.depth > MAX_DEPTH) {
    return { path, reason: "the schemas nest too deep (a recursive $ref?)" };
  }
  if (++ctx.steps.n > MAX_COMPAT_STEPS) {
    return { path, reason: `the schemas take more than ${MAX_COMPAT_STEPS} comparisons to check` };
  }
  const next: Ctx = { ...ctx, depth: ctx.depth + 1 };
  const cr = deref(cIn, ctx.cRoot, path, "consumer");
  if ("fail" in cr) return cr.fail;
  const c = cr.s;
  if (trivial(c)) return undefined;
  const pr = deref(pIn, ctx.pRoot, path, "producer");
  if ("fail" in pr) return pr.fail;
  const p = pr.s;
  if (
    p === false || (isObj(p) && (p as Obj).enum !== undefined &&
      Array.isArray((p as Obj).enum) && ((p as Obj).enum as unknown[]).length === 0)
  ) {
    return undefined; // the producer sends nothing here
  }
  if (c === false) return { path, reason: "the consumer accepts nothing here (schema false)" };
  const co = c as Obj;
  if (p === true || trivial(p)) {
    return { path, reason: "the producer's schema does not constrain this value" };
  }
  const po = p as Obj;
  // Identical schemas are compatible (with a $ref inside only when the roots it resolves
  // against are identical too).
  if (equal(po, co) && (ctx.sameRoots || !JSON.stringify(co).includes('"$ref"'))) {
    return undefined;
  }

  // Producer alternatives: each must be compatible. allOf: one branch with the rest suffices.
  for (const key of ["anyOf", "oneOf"] as const) {
    if (Array.isArray(po[key])) {
      const { [key]: branches, ...rest } = po;
      for (const [i, b] of (branches as unknown[]).entries()) {
        const r = check(merge(rest, b), co, path, next);
        if (r) return { path: r.path, reason: `producer ${key}[${i}]: ${r.reason}` };
      }
      return undefined;
    }
  }
  if (Array.isArray(po.allOf)) {
    const { allOf, ...rest } = po;
    const first = check(rest, co, path, next);
    if (!first) return undefined;
    for (const b of allOf as unknown[]) {
      if (!check(merge(rest, b), co, path, next)) return undefined;
    }
    return first;
  }
  // Consumer combinators.
  if (Array.isArray(co.allOf)) {
    const { allOf, ...rest } = co;
    for (const [i, b] of (allOf as unknown[]).entries()) {
      const r = check(po, b, path, next);
      if (r) return { path: r.path, reason: `consumer allOf[${i}]: ${r.reason}` };
    }
    return check(po, rest, path, next);
  }
  for (const key of ["anyOf", "oneOf"] as const) {
    if (!Array.isArray(co[key])) continue;
    const { [key]: branches, ...rest } = co;
    const list = branches as unknown[];
    if (key === "oneOf" && !disjointTypes(list, ctx.cRoot)) {
      return { path, reason: "consumer oneOf with overlapping branches cannot be checked" };
    }
    let firstReason: Incompatibility | undefined;
    for (const b of list) {
      const r = check(po, b, path, next);
      if (!r) return check(po, rest, path, next);
      firstReason ??= r;
    }
    return {
      path,
      reason: `matches none of the consumer's ${key} (first: ${firstReason?.reason})`,
    };
  }
  for (const k of UNCHECKED) {
    if (co[k] !== undefined && !equal(co[k], po[k])) {
      return { path, reason: `consumer keyword "${k}" cannot be checked statically` };
    }
  }
  return checkTypes(po, co, path) ?? checkValues(po, co, path) ??
    checkNumbers(po, co, path) ?? checkStrings(po, co, path) ??
    checkObjects(po, co, path, next) ?? checkArrays(po, co, path, next);
}

function merge(rest: Obj, branch: unknown): unknown {
  if (branch === true) return rest;
  if (branch === false) return false;
  return { ...rest, ...(branch as Obj) };
}

/** oneOf branches whose declared types do not overlap (so "one of" means "any of"). */
function disjointTypes(branches: unknown[], root: JsonSchema): boolean {
  const seen = new Set<string>();
  for (const b of branches) {
    const r = deref(b, root, "", "consumer");
    const types = "s" in r && isObj(r.s) ? typesOf(r.s) : undefined;
    if (!types) return false;
    for (const t of types) {
      const norm = t === "integer" ? "number" : t;
      if (seen.has(norm)) return false;
      seen.add(norm);
    }
  }
  return true;
}

/** The schema the producer gives property `key` (undefined: not described, may be sent). */
function producedProperty(p: Obj, key: string): unknown | "absent" {
  const props = isObj(p.properties) ? p.properties : {};
  if (key in props) return props[key];
  if (p.additionalProperties === false) return "absent";
  if (isObj(p.additionalProperties) || typeof p.additionalProperties === "boolean") {
    return p.additionalProperties;
  }
  return undefined;
}

function checkObjects(p: Obj, c: Obj, path: string, ctx: Ctx): Result {
  if (!mayBe(p, "object")) return undefined;
  const pRequired = new Set(Array.isArray(p.required) ? p.required as string[] : []);
  const cProps = isObj(c.properties) ? c.properties : {};
  const at = (k: string) => `${path}/${k.replaceAll("~", "~0").replaceAll("/", "~1")}`;
  for (const key of Array.isArray(c.required) ? c.required as string[] : []) {
    if (!pRequired.has(key)) {
      return { path: at(key), reason: "required by the consumer but not always produced" };
    }
  }
  for (const [key, schema] of Object.entries(cProps)) {
    const produced = producedProperty(p, key);
    if (produced === "absent") continue;
    if (produced === undefined) {
      if (!pRequired.has(key)) continue; // optional and undescribed: checked at run time
      return { path: at(key), reason: "produced without a schema" };
    }
    const r = check(produced, schema, at(key), ctx);
    if (r) return r;
  }
  const extra = c.additionalProperties;
  if (extra !== undefined && extra !== true) {
    if (p.patternProperties !== undefined) {
      return { path, reason: "the producer's patternProperties cannot be checked" };
    }
    const pProps = isObj(p.properties) ? p.properties : {};
    for (const [key, schema] of Object.entries(pProps)) {
      if (key in cProps) continue;
      if (extra === false) {
        return { path: at(key), reason: "produced, but the consumer allows no such property" };
      }
      const r = check(schema, extra, at(key), ctx);
      if (r) return r;
    }
    if (p.additionalProperties !== false) {
      if (extra === false) {
        return {
          path,
          reason: "the producer allows other properties; the consumer's additionalProperties " +
            "is false",
        };
      }
      const r = check(p.additionalProperties ?? true, extra, `${path}/*`, ctx);
      if (r) return r;
    }
  }
  const count = (s: Obj) => ({
    ...s,
    minProperties: Math.max(
      typeof s.minProperties === "number" ? s.minProperties : 0,
      Array.isArray(s.required) ? new Set(s.required).size : 0,
    ),
    maxProperties: typeof s.maxProperties === "number"
      ? s.maxProperties
      : s.additionalProperties === false && s.patternProperties === undefined
      ? Object.keys(isObj(s.properties) ? s.properties : {}).length
      : undefined,
  });
  return bounds(count(p), c, path, "property count", [
    "minProperties",
    "",
    "maxProperties",
    "",
  ]);
}

function checkArrays(p: Obj, c: Obj, path: string, ctx: Ctx): Result {
  if (!mayBe(p, "array")) return undefined;
  const pPrefix = Array.isArray(p.prefixItems) ? p.prefixItems : [];
  const cPrefix = Array.isArray(c.prefixItems) ? c.prefixItems : [];
  // The producer's schema for item i (undefined: any value; "absent": no such item).
  const item = (i: number): unknown => {
    if (i < pPrefix.length) return pPrefix[i];
    if (p.items === false) return "absent";
    return p.items ?? true;
  };
  for (let i = 0; i < cPrefix.length; i++) {
    const produced = item(i);
    if (produced === "absent") break;
    const r = check(produced, cPrefix[i], `${path}/${i}`, ctx);
    if (r) return r;
  }
  if (c.items !== undefined) {
    for (let i = cPrefix.length; i < pPrefix.length; i++) {
      const r = check(pPrefix[i], c.items, `${path}/${i}`, ctx);
      if (r) return r;
    }
    if (p.items !== false) {
      const r = check(p.items ?? true, c.items, `${path}/*`, ctx);
      if (r) return r;
    }
  }
  if (
    c.uniqueItems === true && p.uniqueItems !== true &&
    !(typeof p.maxItems === "number" && p.maxItems <= 1)
  ) {
    return { path, reason: "items are not shown to be unique" };
  }
  const sized = {
    ...p,
    minItems: typeof p.minItems === "number" ? p.minItems : 0,
    maxItems: typeof p.maxItems === "number"
      ? p.maxItems
      : p.items === false
      ? pPrefix.length
      : undefined,
  };
  return bounds(sized, c, path, "item count", ["minItems", "", "maxItems", ""]);
}
