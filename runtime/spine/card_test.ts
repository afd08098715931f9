import assert from "node:assert/strict";
import { BusError } from "../protocol/mod.ts";
import { compileCard, MAX_CARD_BYTES } from "./card.ts";

const bytes = (s: string) => new TextEncoder().encode(s);

function refused(given: unknown, pattern: RegExp, kind?: "operator" | "client") {
  assert.throws(() => compileCard(given, kind), (e: unknown) => {
    assert.ok(e instanceof BusError);
    assert.equal(e.code, "INVALID_ARGUMENT");
    assert.match(e.message, pattern);
    return true;
  });
}

Deno.test("a card's output schema names the instance path and keyword that failed", () => {
  const card = compileCard({
    capabilities: ["sum"],
    output_schema: {
      type: "object",
      properties: { sum: { type: "integer", maximum: 10 } },
      required: ["sum"],
    },
  });
  assert.equal(card.input, undefined);
  assert.equal(card.output!(bytes('{"sum":3}')), undefined);
  assert.match(card.output!(bytes('{"sum":11}'))!, /at "\/sum" \(keyword "maximum"\)/);
  assert.match(card.output!(bytes("{}"))!, /at "" \(keyword "required"\)/);
  assert.match(card.output!(bytes("not json"))!, /not UTF-8 JSON/);
  assert.match(card.output!(new Uint8Array([0x22, 0xff, 0x22]))!, /not UTF-8 JSON/);
  assert.match(card.output!(undefined)!, /not UTF-8 JSON/);
});

Deno.test("one card is compiled once: the same JSON gives the same compiled card", () => {
  const a = compileCard('{"capabilities":["x"],"input_schema":{"type":"string"}}');
  const b = compileCard({ capabilities: ["x"], input_schema: { type: "string" } });
  assert.equal(a, b);
  assert.equal(a.digest.length, 64);
  assert.equal(a.input!(bytes('"s"')), undefined);
  assert.match(a.input!(bytes("1"))!, /input_schema: at "" \(keyword "type"\)/);
});

Deno.test("two cards may use one $id; boolean schemas are schemas", () => {
  const a = compileCard({
    capabilities: [],
    output_schema: { $id: "https://example.com/s", type: "string" },
  });
  const b = compileCard({
    capabilities: [],
    output_schema: { $id: "https://example.com/s", type: "number" },
  });
  assert.equal(a.output!(bytes('"s"')), undefined);
  assert.equal(b.output!(bytes("1")), undefined);
  const never = compileCard({ capabilities: [], output_schema: false });
  assert.match(never.output!(bytes("1"))!, /keyword "false schema"/);
});

Deno.test("invalid cards are refused with what is wrong", () => {
  refused("{", /not valid JSON/);
  refused([], /must be a JSON object/);
  refused({}, /capabilities must be an array/);
  refused({ capabilities: [1] }, /capabilities\[0\] must be a non-empty string/);
  refused({ capabilities: [], colour: "red" }, /unknown field "colour"/);
  refused({ capabilities: [], output_schema: "x" }, /output_schema must be a JSON Schema/);
  refused({ capabilities: [], output_schema: [] }, /output_schema must be a JSON Schema/);
  refused(
    { capabilities: [], input_schema: { type: "objekt" } },
    /input_schema: schema is invalid/,
  );
  refused({ capabilities: [], input_schema: { typo: 1 } }, /unknown keyword: "typo"/);
  refused({ capabilities: [], output_schema: { $ref: "https://x.example/s" } }, /resolve/);
  refused(
    { capabilities: [], output_schema: { $schema: "http://json-schema.org/draft-07/schema#" } },
    /draft-07/,
  );
  refused({ capabilities: [], realities: ["Bad Name"] }, /realities: "Bad Name"/);
  refused({ capabilities: [], realities: ["r"] }, /an operator is listed/, "operator");
});

Deno.test("a card over 64 KiB is refused, as text and as a value", () => {
  const big = { capabilities: ["x".repeat(MAX_CARD_BYTES)] };
  refused(big, /exceed the limit of 65536/);
  refused(JSON.stringify(big), /exceed the limit of 65536/);
  // Just under the bound passes.
  const fits = { capabilities: ["x".repeat(MAX_CARD_BYTES - 100)] };
  assert.equal(compileCard(fits).card.capabilities.length, 1);
});

Deno.test("schemas are bounded to 256 objects and arrays: deep or wide, refused before compiling", () => {
  let deep: Record<string, unknown> = { type: "integer" };
  for (let i = 0; i < 3000; i++) deep = { items: deep };
  const text = JSON.stringify({ capabilities: [], output_schema: deep });
  assert.ok(text.length < MAX_CARD_BYTES);
  refused(text, /more than 256 objects and arrays/);
  const wide = (n: number) => {
    const properties: Record<string, unknown> = {};
    for (let i = 0; i < n; i++) properties[`p${i}`] = { type: "integer" };
    return { type: "object", properties };
  };
  // 1 + 1 + 254 = 256 nodes fit; one more property does not. Both schemas count together.
  const t0 = performance.now();
  assert.equal(
    typeof compileCard({ capabilities: [], output_schema: wide(254) }).output,
    "function",
  );
  const ms = performance.now() - t0;
  refused({ capabilities: [], output_schema: wide(255) }, /more than 256/);
  refused({ capabilities: [], input_schema: wide(200), output_schema: wide(60) }, /more than 256/);
  console.log(`a card at the node bound compiled in ${ms.toFixed(0)} ms`);
});

Deno.test("patterns run in linear time (RE2): a backtracking pattern cannot stall the node", () => {
  const card = compileCard({
    capabilities: [],
    output_schema: { type: "string", pattern: "^(a+)+$" },
  });
  const evil = bytes(JSON.stringify("a".repeat(5000) + "b"));
  const t0 = performance.now();
  assert.match(card.output!(evil)!, /keyword "pattern"/);
  // A backtracking engine takes longer than the universe's age here; RE2 takes ms.
  assert.ok(performance.now() - t0 < 2000);
  assert.equal(card.output!(bytes('"aaa"')), undefined);
  // Each card keeps its own patterns (ajv shares compiled patterns by their name).
  const other = compileCard({
    capabilities: [],
    input_schema: { type: "string", pattern: "^b+$" },
  });
  assert.equal(other.input!(bytes('"bbb"')), undefined);
  assert.match(other.input!(bytes('"aaa"'))!, /keyword "pattern"/);
  const props = compileCard({
    capabilities: [],
    output_schema: { type: "object", patternProperties: { "^x-\\d+$": { type: "integer" } } },
  });
  assert.match(props.output!(bytes('{"x-1":"s"}'))!, /at "\/x-1" \(keyword "type"\)/);
  refused(
    { capabilities: [], output_schema: { type: "string", pattern: "(?=a)" } },
    /output_schema: .*(?:Perl syntax|regexp)/,
  );
});

Deno.test("an f32le card checks a float32 vector payload as the array of its numbers", () => {
  const card = compileCard({
    capabilities: ["features"],
    input_encoding: "f32le",
    input_schema: {
      type: "array",
      items: { type: "number", minimum: 0 },
      minItems: 3,
      maxItems: 3,
    },
  });
  const vec = (...xs: number[]) => new Uint8Array(new Float32Array(xs).buffer);
  assert.equal(card.card.input_encoding, "f32le");
  assert.equal(card.input!(vec(1, 2, 3)), undefined);
  assert.match(card.input!(vec(1, 2))!, /keyword "minItems"/);
  assert.match(card.input!(vec(1, -2, 3))!, /at "\/1" \(keyword "minimum"\)/);
  assert.match(card.input!(new Uint8Array(5))!, /not a float32 vector/);
  refused(
    { capabilities: [], output_encoding: "f64" },
    /output_encoding must be "json" or "f32le"/,
  );
  refused({ capabilities: [], encoding: "f32le" }, /unknown field "encoding"/);
});
