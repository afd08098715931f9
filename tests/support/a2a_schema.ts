/**
 * JSON Schemas of A2A 1.0 objects, derived from the vendored specification proto
 * (tests/testdata/a2a/a2a.proto, tag v1.0.1) the way the project's own `a2a.json` is
 * (ProtoJSON: camelCase names, enum names as strings, `REQUIRED` field behavior as
 * `required`), and checked with ajv. Unknown fields are refused, and a oneof takes at
 * most one member.
 * @module
 */
import protobuf from "protobufjs";
import { Ajv2020, type ValidateFunction } from "ajv/dist/2020.js";

const PROTO = new URL("../testdata/a2a/a2a.proto", import.meta.url);
const PACKAGE = "lf.a2a.v1";

type Schema = Record<string, unknown>;

const camel = (name: string) => name.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());

function root(): protobuf.Root {
  const parsed = protobuf.parse(Deno.readTextFileSync(PROTO), { keepCase: true });
  for (const file of ["struct", "timestamp", "empty"]) {
    const json = protobuf.common.get(`google/protobuf/${file}.proto`);
    if (json?.nested) parsed.root.addJSON(json.nested);
  }
  parsed.root.resolveAll();
  return parsed.root;
}

const WELL_KNOWN: Record<string, Schema> = {
  "google.protobuf.Struct": { type: "object" },
  "google.protobuf.Value": {},
  "google.protobuf.Timestamp": { type: "string", format: "date-time" },
  "google.protobuf.Empty": { type: "object", maxProperties: 0 },
};

function scalar(type: string): Schema {
  switch (type) {
    case "string":
    case "bytes":
      return { type: "string" };
    case "bool":
      return { type: "boolean" };
    case "double":
    case "float":
      return { type: "number" };
    case "int64":
    case "uint64":
    case "sint64":
    case "fixed64":
    case "sfixed64":
      return { anyOf: [{ type: "integer" }, { type: "string", pattern: "^-?[0-9]+$" }] };
    default:
      return { type: "integer" };
  }
}

function typeSchema(field: protobuf.Field, defs: Record<string, Schema>): Schema {
  const t = field.resolvedType;
  if (t instanceof protobuf.Enum) return { enum: Object.keys(t.values) };
  if (t instanceof protobuf.Type) {
    const name = t.fullName.slice(1);
    if (WELL_KNOWN[name]) return WELL_KNOWN[name];
    define(t, defs);
    return { $ref: `#/$defs/${name}` };
  }
  return scalar(field.type);
}

function define(type: protobuf.Type, defs: Record<string, Schema>): void {
  const name = type.fullName.slice(1);
  if (defs[name]) return;
  const properties: Record<string, Schema> = {};
  const required: string[] = [];
  defs[name] = { type: "object", additionalProperties: false, properties, required };
  for (const field of type.fieldsArray) {
    const json = camel(field.name);
    const item = typeSchema(field, defs);
    if (field instanceof protobuf.MapField) {
      properties[json] = { type: "object", additionalProperties: item };
    } else if (field.repeated) properties[json] = { type: "array", items: item };
    else properties[json] = item;
    const behavior = field.options?.["(google.api.field_behavior)"];
    if (behavior === "REQUIRED") required.push(json);
  }
  // Real oneofs (proto3 `optional` makes synthetic ones named `_<field>`): at most one.
  const exclusive: Schema[] = [];
  for (const oneof of type.oneofsArray) {
    if (oneof.name.startsWith("_")) continue;
    const names = oneof.oneof.map(camel);
    for (let i = 0; i < names.length; i++) {
      for (let j = i + 1; j < names.length; j++) {
        exclusive.push({ not: { required: [names[i], names[j]] } });
      }
    }
  }
  if (exclusive.length > 0) defs[name].allOf = exclusive;
}

const proto = root();
const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: false });
const cache = new Map<string, ValidateFunction>();

/** The validator of A2A message `type` (e.g. `AgentCard`, `Task`, `StreamResponse`). */
export function a2aValidator(type: string): ValidateFunction {
  let v = cache.get(type);
  if (v) return v;
  const defs: Record<string, Schema> = {};
  define(proto.lookupType(`${PACKAGE}.${type}`), defs);
  v = ajv.compile({ $defs: defs, $ref: `#/$defs/${PACKAGE}.${type}` });
  cache.set(type, v);
  return v;
}

/** Errors of `value` as A2A `type` (empty when it conforms), one line each. */
export function a2aErrors(type: string, value: unknown): string[] {
  const v = a2aValidator(type);
  if (v(value)) return [];
  return (v.errors ?? []).map((e) =>
    `${e.instancePath || "/"} ${e.message}${e.params ? " " + JSON.stringify(e.params) : ""}`
  );
}
