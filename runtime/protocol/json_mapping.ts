/**
 * Reading messages in the proto3 JSON mapping (https://protobuf.dev/programming-guides/json/)
 * as strictly as the reference implementations do. protobufjs's `fromObject` is lenient:
 * it ignores proto field names (`correlation_id`) and unknown fields, reads a JSON object
 * as empty bytes and `"abc"` as a NaN uint64. This reader walks the schema instead, and
 * refuses what the mapping refuses with a `FrameJsonError` naming the field:
 *
 * - keys: the lowerCamelCase JSON name or the original proto name; a field given under
 *   both, an unknown field, or two members of one oneof are refused; `null` means unset;
 * - integers: JSON numbers or decimal strings (exponents allowed) that are integral and in
 *   range; 64-bit values beyond 2^53-1 are refused, the node keeps them as JS numbers;
 * - floats: numbers, numeric strings, `"NaN"`, `"Infinity"`, `"-Infinity"`;
 * - bytes: base64, standard or URL-safe, padded or not; enums: names or integers;
 * - strings: well-formed Unicode (a lone surrogate cannot be UTF-8).
 *
 * The output is a plain object in protobufjs's shape (camelCase, numbers, `Uint8Array`),
 * ready for `Type.fromObject`, which then has nothing left to guess.
 * @module
 */
import type protobuf from "protobufjs";
import { BusError } from "./errors.ts";
import { protoNameRoot } from "./schema.ts";
import type { ErrorCodeName } from "./types.ts";

/**
 * A JSON frame the mapping refuses. Carries the field path it blames and, when the
 * frame's correlation id could be read, that id, so the answer can name the frame.
 */
export class FrameJsonError extends BusError {
  /** Dotted path of the field at fault (`publish.pulse.payload`), "" for the frame. */
  readonly field: string;
  /** The refused frame's correlation id, or 0 when it could not be read. */
  correlationId = 0;
  /** Creates the error; the message is prefixed with the field path. */
  constructor(code: ErrorCodeName, field: string, message: string) {
    super(code, field ? `${field}: ${message}` : message);
    this.name = "FrameJsonError";
    this.field = field;
  }
}

const MAX_UINT32 = 0xffffffff;
const MAX_FLOAT32 = 3.4028234663852886e38;
// JSON numbers, which the mapping also accepts inside strings for numeric fields.
const NUMBER_TEXT = /^-?\d+(\.\d+)?([eE][+-]?\d+)?$/;
// Standard and URL-safe alphabets, padding optional.
const BASE64_TEXT = /^[A-Za-z0-9+/_-]*={0,2}$/;

/** One field as the JSON reader sees it. */
interface FieldInfo {
  readonly field: protobuf.Field;
  /** protobufjs's (camelCase) name: the key of the output object. */
  readonly key: string;
  /** The proto name, for messages. */
  readonly protoName: string;
  /** The oneof the field is a member of, if any. */
  readonly oneof?: string;
}

/** A message type's fields by both their JSON and their proto names. */
interface TypeInfo {
  readonly byName: Map<string, FieldInfo>;
}

const typeInfos = new WeakMap<protobuf.Type, TypeInfo>();

/** The mapping's JSON name of a proto field name (protoc's `ToJsonName`). */
export function jsonName(protoName: string): string {
  let out = "";
  let upper = false;
  for (const ch of protoName) {
    if (ch === "_") upper = true;
    else if (upper) {
      out += ch.toUpperCase();
      upper = false;
    } else out += ch;
  }
  return out;
}

function infoOf(type: protobuf.Type): TypeInfo {
  let info = typeInfos.get(type);
  if (info) return info;
  // The same type parsed with its proto names kept: fields match by id.
  const original = protoNameRoot.lookupType(type.fullName);
  const byName = new Map<string, FieldInfo>();
  for (const field of type.fieldsArray) {
    const protoName = original.fieldsById[field.id].name;
    const entry: FieldInfo = {
      field: field.resolve(),
      key: field.name,
      protoName,
      oneof: field.partOf?.name,
    };
    byName.set(protoName, entry);
    byName.set(jsonName(protoName), entry);
  }
  info = { byName };
  typeInfos.set(type, info);
  return info;
}

function fail(path: string, message: string, code: ErrorCodeName = "INVALID_FRAME"): never {
  throw new FrameJsonError(code, path, message);
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "object") return "an object";
  if (typeof value === "string") return `the string ${JSON.stringify(value.slice(0, 40))}`;
  return `${typeof value} ${String(value)}`;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/**
 * Reads a JSON object as a message of `type`; throws `FrameJsonError` naming the field
 * (under `path`) the mapping refuses.
 */
export function messageFromJson(
  type: protobuf.Type,
  value: unknown,
  path = "",
): Record<string, unknown> {
  if (!isObject(value)) fail(path, `expected an object for ${type.name}, got ${describe(value)}`);
  const { byName } = infoOf(type);
  const out: Record<string, unknown> = {};
  const seen = new Set<string>();
  const oneofs = new Map<string, string>();
  for (const name of Object.keys(value)) {
    const where = path ? `${path}.${name}` : name;
    const info = byName.get(name);
    if (!info) fail(where, `${type.name} has no field "${name}"`);
    if (seen.has(info.key)) {
      fail(where, `field ${info.protoName} is given twice (as its JSON and its proto name)`);
    }
    seen.add(info.key);
    const raw = value[name];
    // null is the default value: the field stays unset (and sets no oneof member).
    if (raw === null) continue;
    if (info.oneof) {
      const other = oneofs.get(info.oneof);
      if (other !== undefined) {
        fail(where, `${other} and ${info.key} are both set, but ${info.oneof} holds one of them`);
      }
      oneofs.set(info.oneof, info.key);
    }
    out[info.key] = fieldFromJson(info.field, raw, where);
  }
  return out;
}

function fieldFromJson(field: protobuf.Field, value: unknown, path: string): unknown {
  if (field.map) {
    if (!isObject(value)) fail(path, `expected an object (a map), got ${describe(value)}`);
    const keyType = (field as unknown as protobuf.MapField).keyType;
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value)) {
      const where = `${path}[${JSON.stringify(key)}]`;
      if (keyType !== "string") scalarFromJson(keyType, field, key, where);
      else if (!key.isWellFormed()) fail(where, "key is not valid Unicode", "INVALID_UTF8");
      if (value[key] === null) fail(where, "a map value cannot be null");
      out[key] = singleFromJson(field, value[key], where);
    }
    return out;
  }
  if (field.repeated) {
    if (!Array.isArray(value)) fail(path, `expected an array, got ${describe(value)}`);
    return value.map((item, i) => {
      const where = `${path}[${i}]`;
      if (item === null) fail(where, "an array element cannot be null");
      return singleFromJson(field, item, where);
    });
  }
  return singleFromJson(field, value, path);
}

function singleFromJson(field: protobuf.Field, value: unknown, path: string): unknown {
  const resolved = field.resolvedType;
  if (resolved && "fieldsArray" in resolved) {
    return messageFromJson(resolved as protobuf.Type, value, path);
  }
  if (resolved) return enumFromJson(resolved as protobuf.Enum, value, path);
  return scalarFromJson(field.type, field, value, path);
}

function enumFromJson(type: protobuf.Enum, value: unknown, path: string): number {
  if (typeof value === "string") {
    if (Object.hasOwn(type.values, value)) return type.values[value];
    if (!NUMBER_TEXT.test(value)) fail(path, `${type.name} has no value named "${value}"`);
  }
  // proto3 enums are open: any int32 is a value.
  return integerFromJson(value, path, -0x80000000, 0x7fffffff, type.name);
}

function integerFromJson(
  value: unknown,
  path: string,
  min: number,
  max: number,
  kind: string,
): number {
  let n: number;
  if (typeof value === "number") n = value;
  else if (typeof value === "string" && NUMBER_TEXT.test(value)) n = Number(value);
  else return fail(path, `expected an integer (${kind}), got ${describe(value)}`);
  if (!Number.isInteger(n)) fail(path, `${value} is not an integer (${kind})`);
  if (n < min || n > max) {
    // 64-bit values the node cannot hold exactly are refused rather than rounded.
    const hint = max === Number.MAX_SAFE_INTEGER
      ? " (the node holds 64-bit values up to 2^53-1)"
      : "";
    fail(path, `${value} is out of range for ${kind}${hint}`);
  }
  return n === 0 ? 0 : n; // no -0
}

function floatFromJson(value: unknown, path: string, kind: string): number {
  let n: number;
  if (typeof value === "number") n = value;
  else if (value === "NaN") return NaN;
  else if (value === "Infinity") return Infinity;
  else if (value === "-Infinity") return -Infinity;
  else if (typeof value === "string" && NUMBER_TEXT.test(value)) n = Number(value);
  else return fail(path, `expected a number (${kind}), got ${describe(value)}`);
  if (!Number.isFinite(n) || (kind === "float" && Math.abs(n) > MAX_FLOAT32)) {
    fail(path, `${value} is out of range for ${kind}`);
  }
  return n;
}

function bytesFromJson(value: unknown, path: string): Uint8Array {
  if (typeof value !== "string") {
    fail(path, `bytes must be a base64 string, got ${describe(value)}`);
  }
  const body = value.replace(/=+$/, "");
  if (!BASE64_TEXT.test(value) || body.length % 4 === 1 || (body !== value && value.length % 4)) {
    fail(path, "not valid base64 (standard or URL-safe, padded or not)");
  }
  const standard = body.replace(/[-_]/g, (c) => (c === "-" ? "+" : "/"));
  try {
    return (Uint8Array as unknown as { fromBase64(s: string): Uint8Array }).fromBase64(standard);
  } catch {
    return fail(path, "not valid base64 (standard or URL-safe, padded or not)");
  }
}

function scalarFromJson(
  type: string,
  field: protobuf.Field,
  value: unknown,
  path: string,
): unknown {
  switch (type) {
    case "string":
      if (typeof value !== "string") fail(path, `expected a string, got ${describe(value)}`);
      if (!value.isWellFormed()) fail(path, "not valid Unicode (a lone surrogate)", "INVALID_UTF8");
      return value;
    case "bool":
      if (typeof value !== "boolean") fail(path, `expected true or false, got ${describe(value)}`);
      return value;
    case "bytes":
      return bytesFromJson(value, path);
    case "double":
    case "float":
      return floatFromJson(value, path, type);
    case "uint32":
    case "fixed32":
      return integerFromJson(value, path, 0, MAX_UINT32, type);
    case "int32":
    case "sint32":
    case "sfixed32":
      return integerFromJson(value, path, -0x80000000, 0x7fffffff, type);
    case "uint64":
    case "fixed64":
      return integerFromJson(value, path, 0, Number.MAX_SAFE_INTEGER, type);
    case "int64":
    case "sint64":
    case "sfixed64":
      return integerFromJson(value, path, -Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER, type);
    default:
      return fail(path, `field ${field.name} has an unsupported type ${type}`, "INTERNAL");
  }
}

/**
 * The correlation id a frame object carries in its (first) kind, read as the mapping
 * reads a uint64; 0 when it has none or it is not readable. For naming a refused frame.
 */
export function correlationIdOf(frame: unknown): number {
  if (!isObject(frame)) return 0;
  for (const kind of Object.values(frame)) {
    if (!isObject(kind)) continue;
    const raw = kind.correlationId ?? kind.correlation_id;
    if (raw === undefined || raw === null) continue;
    try {
      return integerFromJson(raw, "", 0, Number.MAX_SAFE_INTEGER, "uint64");
    } catch {
      continue;
    }
  }
  return 0;
}
