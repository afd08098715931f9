import assert from "node:assert/strict";
import { compileCard, type JsonSchema } from "../../runtime/spine/mod.ts";
import { checkCompatible, MAX_COMPAT_STEPS } from "./compat.ts";

const ok = (p: JsonSchema | undefined, c: JsonSchema | undefined) =>
  assert.equal(checkCompatible(p, c), undefined, JSON.stringify({ p, c }));

function refused(
  p: JsonSchema | undefined,
  c: JsonSchema | undefined,
  path: string,
  reason: RegExp,
) {
  const r = checkCompatible(p, c);
  assert.ok(r, `expected refusal of ${JSON.stringify({ p, c })}`);
  assert.equal(r.path, path, r.reason);
  assert.match(r.reason, reason);
}

Deno.test("compat: absent and trivial schemas", () => {
  ok(undefined, undefined);
  ok({ type: "string" }, undefined);
  ok(undefined, true);
  ok(undefined, { title: "anything", description: "annotations only" });
  refused(undefined, { type: "number" }, "", /declares no output_schema/);
  refused(true, { type: "number" }, "", /does not constrain/);
  ok(false, { type: "number" }); // produces nothing
  refused({ type: "number" }, false, "", /accepts nothing/);
  ok({ enum: [] }, { type: "string" });
});

Deno.test("compat: types, integer within number, unions", () => {
  ok({ type: "integer" }, { type: "number" });
  ok({ type: "integer" }, { type: "integer" });
  refused({ type: "number" }, { type: "integer" }, "", /type "number" is not accepted/);
  refused({ type: "string" }, { type: "number" }, "", /type "string" is not accepted/);
  ok({ type: ["string", "null"] }, { type: ["null", "string", "number"] });
  refused({ type: ["string", "null"] }, { type: "string" }, "", /"null"/);
  refused({ minimum: 0 }, { type: "number" }, "", /does not constrain the type/);
  // Types inferred from const and enum.
  ok({ const: 3 }, { type: "integer" });
  ok({ enum: ["a", 2] }, { type: ["string", "number"] });
  refused({ enum: ["a", 2.5] }, { type: ["string", "integer"] }, "", /"number"/);
});

Deno.test("compat: enums and const must be narrower or equal", () => {
  ok({ enum: ["a", "b"] }, { enum: ["a", "b", "c"] });
  ok({ const: "a" }, { enum: ["a", "b"] });
  ok({ enum: ["a"] }, { const: "a" });
  refused({ enum: ["a", "d"] }, { enum: ["a", "b"] }, "", /value "d" is not in/);
  refused({ type: "string" }, { enum: ["a"] }, "", /does not restrict values/);
  ok({ enum: [{ x: 1 }] }, { enum: [{ x: 1 }, { x: 2 }] }); // deep equality
  ok({ enum: ["a", "b"] }, { type: "string" }); // consumer without enum
});

Deno.test("compat: numeric bounds", () => {
  ok({ type: "number", minimum: 0, maximum: 1 }, { type: "number", minimum: 0, maximum: 1 });
  ok({ type: "number", minimum: 0.5, maximum: 0.9 }, { type: "number", minimum: 0, maximum: 1 });
  refused(
    { type: "number", minimum: -1, maximum: 1 },
    { type: "number", minimum: 0 },
    "",
    /lower bound >= -1 is wider than the consumer's >= 0/,
  );
  refused({ type: "number" }, { type: "number", maximum: 10 }, "", /upper bound none/);
  refused(
    { type: "number", maximum: 11 },
    { type: "number", maximum: 10 },
    "",
    /upper bound <= 11/,
  );
  // Exclusive forms.
  ok({ type: "number", exclusiveMinimum: 0 }, { type: "number", minimum: 0 });
  ok({ type: "number", exclusiveMinimum: 0 }, { type: "number", exclusiveMinimum: 0 });
  ok({ type: "number", minimum: 0.1 }, { type: "number", exclusiveMinimum: 0 });
  refused({ type: "number", minimum: 0 }, { type: "number", exclusiveMinimum: 0 }, "", /> 0/);
  refused({ type: "number", maximum: 5 }, { type: "number", exclusiveMaximum: 5 }, "", /< 5/);
  // Bounds from values.
  ok({ enum: [1, 2, 3] }, { type: "integer", minimum: 1, maximum: 3 });
  refused({ enum: [1, 2, 4] }, { type: "integer", maximum: 3 }, "", /upper bound <= 4/);
  // multipleOf
  ok({ type: "integer", multipleOf: 10 }, { type: "integer", multipleOf: 5 });
  refused({ type: "integer", multipleOf: 5 }, { type: "integer", multipleOf: 10 }, "", /of 10/);
  ok({ enum: [0.5, 1.5] }, { type: "number", multipleOf: 0.5 });
  // Bounds on a type the producer never sends do not apply.
  ok({ type: "string" }, { type: ["string", "number"], minimum: 0 });
});

Deno.test("compat: strings", () => {
  ok({ type: "string", minLength: 2, maxLength: 4 }, { type: "string", maxLength: 8 });
  refused({ type: "string" }, { type: "string", maxLength: 8 }, "", /length upper bound/);
  refused({ type: "string", minLength: 0 }, { type: "string", minLength: 1 }, "", /length lower/);
  ok({ enum: ["ab", "abc"] }, { type: "string", minLength: 2, maxLength: 3 });
  ok({ type: "string", pattern: "^[a-z]+$" }, { type: "string", pattern: "^[a-z]+$" });
  ok({ enum: ["tone", "noise"] }, { type: "string", pattern: "^[a-z]+$" });
  refused({ type: "string" }, { type: "string", pattern: "^a" }, "", /pattern \^a/);
  refused({ enum: ["ba"] }, { type: "string", pattern: "^a" }, "", /pattern/);
});

Deno.test("compat: objects: required produced, nested properties, additionalProperties", () => {
  const consumer = {
    type: "object",
    required: ["class", "score"],
    properties: {
      class: { enum: ["tone", "noise", "silence"] },
      score: { type: "number", minimum: 0, maximum: 1 },
      note: { type: "string" },
    },
  };
  const producer = {
    type: "object",
    required: ["class", "score", "extra"],
    properties: {
      class: { enum: ["tone", "noise"] },
      score: { type: "number", minimum: 0, maximum: 1 },
      extra: { type: "boolean" },
    },
  };
  ok(producer, consumer);
  refused(
    { ...producer, required: ["class"] },
    consumer,
    "/score",
    /required by the consumer but not always produced/,
  );
  refused(
    { ...producer, properties: { ...producer.properties, class: { type: "string" } } },
    consumer,
    "/class",
    /does not restrict values/,
  );
  refused(
    { ...producer, properties: { ...producer.properties, score: { type: "number" } } },
    consumer,
    "/score",
    /lower bound none/,
  );
  // Required by the consumer, produced as required but never described.
  refused(
    { type: "object", required: ["class", "score"], properties: { class: { const: "tone" } } },
    consumer,
    "/score",
    /produced without a schema/,
  );
  // ... unless the producer's additionalProperties describes it.
  ok(
    {
      type: "object",
      required: ["class", "score"],
      properties: { class: { const: "tone" } },
      additionalProperties: { type: "number", minimum: 0.5, maximum: 0.5 },
    },
    { ...consumer, properties: { ...consumer.properties, note: { type: "number" } } },
  );
  // Deeply nested.
  const nest = (leaf: JsonSchema): JsonSchema => ({
    type: "object",
    required: ["a"],
    properties: {
      a: { type: "object", required: ["b"], properties: { b: { type: "array", items: leaf } } },
    },
  });
  ok(nest({ type: "integer" }), nest({ type: "number" }));
  refused(nest({ type: "number" }), nest({ type: "integer" }), "/a/b/*", /type "number"/);
  // Keys with / and ~ are escaped in the path.
  refused(
    { type: "object", required: [], properties: {} },
    { type: "object", required: ["a/b~c"] },
    "/a~1b~0c",
    /not always produced/,
  );
  // additionalProperties: false in the consumer.
  const closed = {
    type: "object",
    properties: { x: { type: "number" } },
    additionalProperties: false,
  };
  ok({ ...closed }, closed);
  refused(
    { type: "object", properties: { x: { type: "number" } } },
    closed,
    "",
    /allows other properties/,
  );
  refused(
    {
      type: "object",
      properties: { x: { type: "number" }, y: { type: "number" } },
      additionalProperties: false,
    },
    closed,
    "/y",
    /allows no such property/,
  );
  // Property counts.
  ok({ type: "object", required: ["a", "b"] }, { type: "object", minProperties: 2 });
  refused({ type: "object", required: ["a"] }, { type: "object", minProperties: 2 }, "", /count/);
  ok({ ...closed }, { type: "object", maxProperties: 1 });
});

Deno.test("compat: arrays: items, tuples, sizes, uniqueness", () => {
  const vec = (n: number, item: JsonSchema = { type: "number" }) => ({
    type: "array",
    items: item,
    minItems: n,
    maxItems: n,
  });
  ok(vec(3), { type: "array", items: { type: "number" }, minItems: 1, maxItems: 64 });
  refused(vec(3), vec(4), "", /item count lower bound >= 3 is wider than the consumer's >= 4/);
  refused({ type: "array", items: { type: "number" } }, vec(3), "", /item count/);
  refused(vec(3, { type: "string" }), vec(3), "/*", /type "string"/);
  refused({ type: "array" }, vec(3), "/*", /does not constrain/);
  // Tuples.
  const pair = {
    type: "array",
    prefixItems: [{ type: "string" }, { type: "integer" }],
    items: false,
  };
  ok(pair, {
    type: "array",
    prefixItems: [{ type: "string" }, { type: "number" }],
    maxItems: 2,
  });
  refused(
    pair,
    { type: "array", prefixItems: [{ type: "string" }, { type: "string" }] },
    "/1",
    /type "integer"/,
  );
  ok(pair, { type: "array", items: { type: ["string", "integer"] } });
  refused(pair, { type: "array", items: { type: "string" } }, "/1", /type "integer"/);
  ok({ ...vec(3), uniqueItems: true }, { type: "array", uniqueItems: true });
  refused(vec(3), { type: "array", uniqueItems: true }, "", /unique/);
});

Deno.test("compat: $ref is resolved within each schema or refused", () => {
  const producer = {
    $defs: { score: { type: "number", minimum: 0, maximum: 1 } },
    type: "object",
    required: ["s"],
    properties: { s: { $ref: "#/$defs/score" } },
  };
  const consumer = {
    $defs: { unit: { type: "number", minimum: 0, maximum: 1 } },
    type: "object",
    required: ["s"],
    properties: { s: { $ref: "#/$defs/unit" } },
  };
  ok(producer, consumer);
  refused(
    producer,
    { ...consumer, $defs: { unit: { type: "number", maximum: 0.5 } } },
    "/s",
    /upper bound <= 1/,
  );
  // A $ref beside other keywords is merged when they do not overlap.
  ok(
    {
      type: "object",
      required: ["s"],
      properties: { s: { $ref: "#/$defs/x", minimum: 0 } },
      $defs: { x: { type: "integer" } },
    },
    { type: "object", required: ["s"], properties: { s: { type: "number", minimum: 0 } } },
  );
  refused(producer, { $ref: "https://example.com/s.json" }, "", /not a local JSON pointer/);
  refused(producer, { $ref: "#/$defs/missing" }, "", /does not resolve/);
  // A recursive schema (a tree) is refused when it must be followed forever.
  const tree = {
    $defs: {
      node: {
        type: "object",
        required: ["kids"],
        properties: { kids: { type: "array", items: { $ref: "#/$defs/node" } } },
      },
    },
    $ref: "#/$defs/node",
  };
  const tree2 = structuredClone(tree);
  (tree2.$defs.node.properties.kids.items as Record<string, unknown>).$ref = "#/$defs/node";
  (tree2.$defs.node as Record<string, unknown>).title = "another";
  const r = checkCompatible(tree, tree2);
  assert.ok(r);
  assert.match(r.reason, /nest too deep \(a recursive \$ref\?\)/);
  assert.ok(r.path.startsWith("/kids/*/kids/*"));
  // The same recursive schema on both sides is compatible (identical, no need to follow).
  ok({ ...tree, $ref: undefined, ...tree.$defs.node }, {
    ...tree,
    $ref: undefined,
    ...tree.$defs.node,
  });
});

Deno.test("compat: combinators", () => {
  // Producer alternatives must each fit.
  ok({ anyOf: [{ type: "integer" }, { const: 1.5 }] }, { type: "number" });
  refused(
    { anyOf: [{ type: "integer" }, { type: "string" }] },
    { type: "number" },
    "",
    /producer anyOf\[1\]: type "string"/,
  );
  // Producer allOf: one branch narrowing is enough.
  ok({ allOf: [{ type: "number" }, { type: "integer" }] }, { type: "integer" });
  // Consumer allOf: each branch.
  ok({ type: "integer", minimum: 1 }, { allOf: [{ type: "number" }, { minimum: 0 }] });
  refused(
    { type: "integer" },
    { allOf: [{ type: "number" }, { minimum: 0 }] },
    "",
    /consumer allOf\[1\]: numeric lower bound none/,
  );
  // Consumer anyOf: one branch.
  ok({ type: "string" }, { anyOf: [{ type: "number" }, { type: "string" }] });
  refused({ type: "boolean" }, { anyOf: [{ type: "number" }, { type: "string" }] }, "", /none/);
  // oneOf with disjoint types is anyOf; overlapping branches are refused.
  ok({ type: "integer" }, { oneOf: [{ type: "number" }, { type: "string" }] });
  refused({ type: "integer" }, { oneOf: [{ type: "number" }, { minimum: 0 }] }, "", /overlapping/);
  // Keywords the checker does not reason about: refused, unless identical.
  refused({ type: "number" }, { type: "number", not: { const: 0 } }, "", /"not" cannot be/);
  ok({ type: "number", not: { const: 0 } }, { type: "number", not: { const: 0 } });
  ok(
    { type: "object", properties: { a: { type: "number", not: { const: 0 } } }, required: ["a"] },
    {
      type: "object",
      properties: { a: { type: "number", not: { const: 0 } } },
      required: ["a"],
    },
  );
});

Deno.test("compat: nested alternatives on both sides are bounded, refused past the budget", () => {
  // Each level doubles the branches tried: 2^16 deep comparisons if nothing bounded it.
  const nest = (depth: number, leaf: JsonSchema): JsonSchema =>
    depth === 0 ? leaf : {
      type: "object",
      required: ["a"],
      properties: { a: { anyOf: [nest(depth - 1, leaf), nest(depth - 1, leaf)] } },
    };
  const t0 = performance.now();
  const r = checkCompatible(nest(16, { type: "integer" }), nest(16, { type: "string" }));
  assert.ok(r);
  assert.match(r.reason, new RegExp(`more than ${MAX_COMPAT_STEPS} comparisons`));
  assert.ok(performance.now() - t0 < 5_000, "bounded time");
  // A small one is still decided.
  ok(nest(2, { type: "integer" }), nest(2, { type: "number" }));
});

Deno.test("compat: a card-sized schema that $refs its way to exponential work is refused fast", () => {
  // 16 levels, each two $refs to the level below: ~115 JSON nodes a schema, within a card.
  const levels = (leaf: JsonSchema) => {
    const $defs: Record<string, JsonSchema> = { l0: leaf };
    for (let k = 1; k <= 16; k++) {
      const below = { $ref: `#/$defs/l${k - 1}` };
      $defs[`l${k}`] = {
        type: "object",
        required: ["a"],
        properties: { a: { anyOf: [below, { ...below, title: "again" }] } },
      };
    }
    return { $defs, $ref: "#/$defs/l16" };
  };
  const producer = levels({ type: "integer" }), consumer = levels({ type: "string" });
  compileCard({ capabilities: [], output_schema: producer, input_schema: consumer });
  const t0 = performance.now();
  const r = checkCompatible(producer, consumer);
  assert.ok(r);
  assert.match(r.reason, /comparisons/);
  assert.ok(performance.now() - t0 < 5_000, `took ${performance.now() - t0} ms`);
});
