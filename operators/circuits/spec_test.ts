import assert from "node:assert/strict";
import { BusError } from "../../runtime/protocol/mod.ts";
import { hopsOf, MAX_STAGES, parseCircuit } from "./spec.ts";

const stage = (operator: unknown, input: string, out: string) => ({ operator, in: input, out });

function refused(body: unknown, message: RegExp) {
  assert.throws(() => parseCircuit(body), (e: unknown) => {
    assert.ok(e instanceof BusError);
    assert.equal(e.code, "INVALID_ARGUMENT");
    assert.match(e.message, message);
    return true;
  });
}

Deno.test("spec: hops are the edges between stages, the entries first", () => {
  const spec = parseCircuit({
    stages: [stage("b", "mid", "end"), stage({ builtin: "echo" }, "start", "mid")],
  });
  assert.deepEqual(hopsOf(spec), [
    { from: null, to: 1, topic: "start" },
    { from: 1, to: 0, topic: "mid" },
  ]);
  // Fan-out: two stages read one topic (allowed), each is a hop.
  const fan = parseCircuit({
    stages: [stage("a", "in", "x"), stage("b", "x", "y"), stage("c", "x", "z")],
  });
  assert.deepEqual(hopsOf(fan).map((h) => [h.from, h.to]), [[null, 0], [0, 1], [0, 2]]);
});

Deno.test("spec: cycles of any length are refused, naming the topics", () => {
  refused({ stages: [stage("a", "t", "t")] }, /cycle: t -> t/);
  refused({ stages: [stage("a", "x", "y"), stage("b", "y", "x")] }, /cycle: x -> y -> x/);
  refused(
    {
      stages: [
        stage("p", "b", "out"),
        stage("a", "a", "b"),
        stage("b", "b", "c"),
        stage("c", "c", "a"),
      ],
    },
    /cycle: a -> b -> c -> a \(stage 1, stage 2, stage 3\)/,
  );
});

Deno.test("spec: shapes, names, topics and bounds", () => {
  refused(null, /must be a JSON object/);
  refused({ stages: "x" }, /non-empty array/);
  refused({ stages: [1] }, /stages\[0\]: must be an object/);
  refused({ stages: [{ ...stage("a", "x", "y"), extra: 1 }] }, /unknown field "extra"/);
  refused({ stages: [stage("A!", "x", "y")] }, /operator names match/);
  refused({ stages: [stage(3, "x", "y")] }, /an operator name or/);
  refused({ stages: [stage({ builtin: "echo", nope: 1 }, "x", "y")] }, /unknown field "nope"/);
  refused({ stages: [stage({ builtin: 1 }, "x", "y")] }, /builtin must name/);
  refused({ stages: [stage({ builtin: "echo", config: [] }, "x", "y")] }, /config must be a JSON/);
  refused({ stages: [stage("a", "", "y")] }, /stages\[0\]\.in: topic is empty/);
  refused({ stages: [stage("a", "x", "y.*")] }, /stages\[0\]\.out: .*no wildcards/);
  refused({ stages: [{ operator: "a", in: "x", out: 3 }] }, /stages\[0\]\.out: not a string/);
  const chain = (n: number) =>
    Array.from({ length: n }, (_, i) => stage(`s${i}`, `t${i}`, `t${i + 1}`));
  assert.equal(parseCircuit({ stages: chain(MAX_STAGES) }).stages.length, MAX_STAGES);
  refused({ stages: chain(MAX_STAGES + 1) }, /17 stages exceed the limit of 16/);
});
