/**
 * Agent cards (the SAM handshake, PRD FR-OPS-03): what an operator or a client says it
 * can do (`capabilities`) and what it consumes and produces (`input_schema`,
 * `output_schema`, JSON Schema 2020-12). Checked whole with ajv; each distinct card is
 * compiled once (cached by the SHA-256 of its JSON text), so a thousand clients with the
 * same card cost one compilation.
 * @module
 */
import { createHash } from "node:crypto";
import { Ajv2020, type ValidateFunction } from "ajv/dist/2020.js";
import { RE2JS } from "re2js";
import { BusError, realityError } from "../protocol/mod.ts";

/**
 * Largest card, in bytes of its JSON text: a card arrives in a hello and is compiled on
 * the node's event loop, so its size bounds both memory and compile time.
 */
export const MAX_CARD_BYTES = 64 * 1024;

/**
 * Most JSON objects and arrays in a card's two schemas together. ajv compiles a schema on
 * the event loop at roughly a millisecond per subschema (measured: 1,400 properties took
 * seconds), so the size bound alone would let one hello stall the node.
 */
export const MAX_SCHEMA_NODES = 256;

/** Distinct compiled cards kept for reuse (those in use stay alive through their users). */
const CACHE_SIZE = 64;

/** A JSON Schema (2020-12): an object or a boolean. */
export type JsonSchema = Record<string, unknown> | boolean;

/** A card as written: in a manifest, in `card.json`, or as the JSON text of `hello.card`. */
export interface AgentCard {
  /** What the agent can do, free-form strings (e.g. `"coherence"`). */
  readonly capabilities: readonly string[];
  /** What its inputs must match (operators: checked before `handle`). */
  readonly input_schema?: JsonSchema;
  /** What its outputs must match (every publish of the producer is checked). */
  readonly output_schema?: JsonSchema;
  /**
   * Clients only: the realities whose agent list shows it (an operator is listed in its
   * manifest's reality).
   * @default ["default"]
   */
  readonly realities?: readonly string[];
  /**
   * How inputs are read for `input_schema`: `json` (UTF-8 JSON text), or `f32le` (a vector
   * of little-endian float32s, checked as the JSON array of its numbers; a payload whose
   * length is not a multiple of 4 fails).
   * @default "json"
   */
  readonly input_encoding?: PayloadEncoding;
  /**
   * How outputs are read for `output_schema` (as `input_encoding`).
   * @default "json"
   */
  readonly output_encoding?: PayloadEncoding;
  /**
   * Capability embeddings for semantic anycast: each of the subscriptions of this client
   * takes anycast pulses nearest to them, in realities whose declared dimension is theirs
   * (a subscribe frame's own `anycast.vectors` replace them).
   * @default {undefined} none
   */
  readonly anycast?: {
    readonly vectors: readonly (readonly number[])[];
    readonly min_score?: number;
  };
}

/** How a card's schemas read payloads. */
export type PayloadEncoding = "json" | "f32le";

/**
 * Checks one payload: undefined when it matches, else what failed (instance path and
 * keyword). A payload that is not UTF-8 JSON fails.
 */
export type PayloadCheck = (payload: Uint8Array | null | undefined) => string | undefined;

/** A checked card with its schemas compiled. */
export interface CompiledCard {
  /** The card, as checked. */
  readonly card: AgentCard;
  /** SHA-256 of its JSON text, hex: two agents with one digest have the same card. */
  readonly digest: string;
  /** The input check, when the card has an `input_schema`. */
  readonly input?: PayloadCheck;
  /** The output check, when the card has an `output_schema`. */
  readonly output?: PayloadCheck;
}

const FIELDS = new Set([
  "capabilities",
  "input_schema",
  "output_schema",
  "realities",
  "input_encoding",
  "output_encoding",
  "anycast",
]);

/** Most capability embeddings a card carries (as many as a subscription may register). */
export const MAX_CARD_EMBEDDINGS = 16;
const cache = new Map<string, CompiledCard>();
let ajv: Ajv2020 | undefined;
const utf8 = new TextDecoder("utf-8", { fatal: true });
const encoder = new TextEncoder();

function bad(message: string): BusError {
  return new BusError("INVALID_ARGUMENT", `card: ${message}`);
}

/**
 * The one validator instance. Created on first use: compiling the 2020-12 meta-schema
 * costs a few hundred ms once per process, which a node without cards never pays.
 */
function validator(): Ajv2020 {
  ajv ??= new Ajv2020({
    // Unknown keywords are refused (a typo would otherwise check nothing), but a schema
    // need not repeat `type` beside `properties` (strictTypes would demand it).
    strictSchema: true,
    strictNumbers: true,
    strictTypes: false,
    strictTuples: false,
    strictRequired: false,
    // 2020-12 makes `format` an annotation by default; asserting it would need a format
    // library and would refuse unknown formats.
    validateFormats: false,
    // Schemas with an `$id` are not registered: two cards may use one `$id`.
    addUsedSchema: false,
    allErrors: false,
    logger: false,
    // `pattern` and `patternProperties` run on RE2 (linear time): a card's backtracking
    // regular expression must not stall the node on its own payloads. RE2 refuses
    // lookarounds and backreferences, so such a schema is refused at compile time.
    code: { regExp: re2 },
  });
  return ajv;
}

/**
 * RE2JS in the shape of ajv's `RegExpEngine`. ajv shares compiled patterns across schemas
 * by `toString()`: it must name the pattern, or every pattern would be the first one.
 */
const re2 = Object.assign((pattern: string) => {
  const re = RE2JS.compile(pattern);
  return { test: (s: string) => re.test(s), toString: () => `re2:${pattern}` };
}, { code: "RE2JS.compile" });

/**
 * Checks and compiles a card given as JSON text (`hello.card`) or as a parsed value (a
 * manifest's `card`). Throws `BusError` `INVALID_ARGUMENT` naming the field at fault: not an
 * object, an unknown field, a wrong type, over {@linkcode MAX_CARD_BYTES}, or a schema ajv
 * cannot compile. `kind` says whose card it is: an operator's may not name `realities`.
 *
 * @example
 * ```ts
 * import { compileCard } from "./card.ts";
 *
 * const card = compileCard('{"capabilities":["sum"],"output_schema":{"type":"integer"}}');
 * card.output?.(new TextEncoder().encode("3")); // undefined: it matches
 * card.output?.(new TextEncoder().encode('"x"')); // 'at "" (keyword "type"): must be integer'
 * ```
 */
export function compileCard(
  given: string | unknown,
  kind: "operator" | "client" = "client",
): CompiledCard {
  let value: unknown = given;
  if (typeof given === "string") {
    // Measured before parsing: the text is what a hostile client controls.
    if (given.length > MAX_CARD_BYTES) tooLarge(encoder.encode(given).length);
    try {
      value = JSON.parse(given);
    } catch {
      throw bad("not valid JSON");
    }
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw bad("must be a JSON object");
  }
  const text = JSON.stringify(value);
  const size = encoder.encode(text).length;
  if (size > MAX_CARD_BYTES) tooLarge(size);
  const digest = createHash("sha256").update(text).digest("hex");
  const hit = cache.get(digest);
  if (hit) {
    // Least recently used first out: refresh its place.
    cache.delete(digest);
    cache.set(digest, hit);
    if (kind === "operator" && hit.card.realities) throw operatorRealities();
    return hit;
  }
  const compiled = build(value as Record<string, unknown>, digest, kind);
  cache.set(digest, compiled);
  if (cache.size > CACHE_SIZE) cache.delete(cache.keys().next().value!);
  return compiled;
}

function tooLarge(size: number): never {
  throw bad(`${size} bytes exceed the limit of ${MAX_CARD_BYTES}`);
}

function operatorRealities(): BusError {
  return bad("realities: an operator is listed in its manifest's reality");
}

function build(c: Record<string, unknown>, digest: string, kind: string): CompiledCard {
  for (const key of Object.keys(c)) {
    if (!FIELDS.has(key)) throw bad(`unknown field "${key}"`);
  }
  const capabilities = strings(c.capabilities, "capabilities");
  if (capabilities === undefined) throw bad("capabilities must be an array of strings");
  const realities = strings(c.realities, "realities");
  if (realities !== undefined) {
    if (kind === "operator") throw operatorRealities();
    for (const r of realities) {
      const err = realityError(r);
      if (err) throw bad(`realities: ${JSON.stringify(r)}: ${err}`);
    }
  }
  const anycast = cardAnycast(c.anycast);
  const nodes = schemaNodes(c.input_schema) + schemaNodes(c.output_schema);
  if (nodes > MAX_SCHEMA_NODES) {
    throw bad(
      `the schemas hold more than ${MAX_SCHEMA_NODES} objects and arrays ` +
        "(each costs compile time on the node)",
    );
  }
  for (const field of ["input_encoding", "output_encoding"]) {
    if (c[field] !== undefined && c[field] !== "json" && c[field] !== "f32le") {
      throw bad(`${field} must be "json" or "f32le"`);
    }
  }
  const inEnc = c.input_encoding as PayloadEncoding | undefined;
  const outEnc = c.output_encoding as PayloadEncoding | undefined;
  const card: AgentCard = {
    capabilities,
    ...(c.input_schema !== undefined ? { input_schema: c.input_schema as JsonSchema } : {}),
    ...(c.output_schema !== undefined ? { output_schema: c.output_schema as JsonSchema } : {}),
    ...(realities !== undefined ? { realities } : {}),
    ...(inEnc !== undefined ? { input_encoding: inEnc } : {}),
    ...(outEnc !== undefined ? { output_encoding: outEnc } : {}),
    ...(anycast !== undefined ? { anycast } : {}),
  };
  return {
    card,
    digest,
    input: schemaCheck(c.input_schema, "input_schema", inEnc),
    output: schemaCheck(c.output_schema, "output_schema", outEnc),
  };
}

/** Checks a card's `anycast`: finite, non-zero vectors of one length, min_score in -1..1. */
function cardAnycast(v: unknown): AgentCard["anycast"] {
  if (v === undefined) return undefined;
  if (typeof v !== "object" || v === null || Array.isArray(v)) {
    throw bad("anycast must be an object");
  }
  const { vectors, min_score, ...rest } = v as Record<string, unknown>;
  if (Object.keys(rest).length > 0) throw bad(`anycast: unknown field "${Object.keys(rest)[0]}"`);
  if (!Array.isArray(vectors) || vectors.length === 0 || vectors.length > MAX_CARD_EMBEDDINGS) {
    throw bad(`anycast.vectors must be 1..${MAX_CARD_EMBEDDINGS} arrays of numbers`);
  }
  vectors.forEach((vec, i) => {
    if (
      !Array.isArray(vec) || vec.length === 0 || vec.length !== (vectors[0] as unknown[]).length
    ) {
      throw bad(`anycast.vectors[${i}] must be an array of numbers as long as the first`);
    }
    if (!vec.every((x) => typeof x === "number" && Number.isFinite(x))) {
      throw bad(`anycast.vectors[${i}] holds a value that is not a finite number`);
    }
    if (vec.every((x) => x === 0)) throw bad(`anycast.vectors[${i}] is a zero vector`);
  });
  if (
    min_score !== undefined &&
    (typeof min_score !== "number" || !(min_score >= -1 && min_score <= 1))
  ) {
    throw bad("anycast.min_score must be a number in -1..1");
  }
  return { vectors: vectors as number[][], ...(min_score !== undefined ? { min_score } : {}) };
}

/** Objects and arrays in `value`, counted up to one past the bound (no recursion). */
function schemaNodes(value: unknown): number {
  let count = 0;
  const stack: unknown[] = [value];
  while (stack.length > 0 && count <= MAX_SCHEMA_NODES) {
    const v = stack.pop();
    if (typeof v !== "object" || v === null) continue;
    count++;
    for (const child of Array.isArray(v) ? v : Object.values(v)) {
      if (typeof child === "object" && child !== null) stack.push(child);
    }
  }
  return count;
}

function strings(v: unknown, field: string): string[] | undefined {
  if (v === undefined) return undefined;
  if (!Array.isArray(v)) throw bad(`${field} must be an array of strings`);
  v.forEach((s, i) => {
    if (typeof s !== "string" || s === "") {
      throw bad(`${field}[${i}] must be a non-empty string`);
    }
  });
  return v as string[];
}

function schemaCheck(
  schema: unknown,
  field: string,
  encoding: PayloadEncoding = "json",
): PayloadCheck | undefined {
  if (schema === undefined) return undefined;
  if (typeof schema !== "boolean" && (typeof schema !== "object" || schema === null)) {
    throw bad(`${field} must be a JSON Schema (an object or a boolean)`);
  }
  if (typeof schema === "object" && Array.isArray(schema)) {
    throw bad(`${field} must be a JSON Schema (an object or a boolean)`);
  }
  const ajv = validator();
  let validate: ValidateFunction;
  try {
    validate = ajv.compile(schema as JsonSchema);
  } catch (e) {
    // A schema nested deep enough overflows the compiler's stack: refused like any other.
    throw bad(`${field}: ${e instanceof Error ? e.message : String(e)}`);
  } finally {
    // The compiled function keeps what it needs; the instance keeps nothing per card.
    if (typeof schema === "object") ajv.removeSchema(schema as Record<string, unknown>);
  }
  return (payload) => {
    let value: unknown;
    const bytes = payload ?? new Uint8Array(0);
    if (encoding === "f32le") {
      if (bytes.length % 4 !== 0) return `${field}: the payload is not a float32 vector`;
      const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
      const floats = new Array<number>(bytes.length / 4);
      for (let i = 0; i < floats.length; i++) floats[i] = view.getFloat32(i * 4, true);
      value = floats;
    } else {
      try {
        value = JSON.parse(utf8.decode(bytes));
      } catch {
        return `${field}: the payload is not UTF-8 JSON`;
      }
    }
    if (validate(value)) return undefined;
    const e = validate.errors?.[0];
    if (!e) return `${field}: the payload does not match`;
    return `${field}: at ${JSON.stringify(e.instancePath)} (keyword "${e.keyword}"): ${e.message}`;
  };
}
