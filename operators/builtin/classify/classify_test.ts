import assert from "node:assert/strict";
import { Engine } from "../../../runtime/sandbox/mod.ts";
import { compileCard } from "../../../runtime/spine/mod.ts";
import { buildOperatorCached, OPERATOR_BUILD_DIR, REPO_ROOT } from "../../build/mod.ts";
import { loadOperator, OperatorSandbox } from "../../operator_sandbox.ts";
import { OperatorState } from "../../state.ts";
import { loadBuiltin } from "../mod.ts";

const component = await buildOperatorCached(
  `${REPO_ROOT}operators/builtin/classify/assembly/operator.ts`,
  `${OPERATOR_BUILD_DIR}builtin/classify.wasm`,
);
const engine = new Engine();
const LIMITS = { maxOutputs: 4, maxOutputBytes: 1 << 16 };
const CONFIG = {
  to: "audio.class",
  features: ["energy", "moment", "power"],
  ratios: { centroid: ["moment", "power"] },
  rules: [
    { class: "silence", when: { energy: { below: 0.001 } } },
    { class: "low", when: { centroid: { below: 1000 } } },
    { class: "band", when: { centroid: { above: 1500, below: 2500 } } },
  ],
  default: "high",
};

const f32 = (...xs: number[]) => new Uint8Array(new Float32Array(xs).buffer);

function pulse(payload: Uint8Array) {
  return {
    topic: "features",
    reality: "default",
    producer: "p",
    headers: [] as [string, string][],
    contentType: "application/octet-stream",
    payload,
    entropySeed: 1n,
    wallMs: 2n,
    logical: 3,
  };
}

async function sandbox(config: unknown = CONFIG) {
  const module = await loadOperator(engine, component);
  return new OperatorSandbox(module, new OperatorState(1024), JSON.stringify(config));
}

Deno.test("classify: the first rule that holds names the class; ratios are derived", async () => {
  const op = await sandbox();
  const cases: [number[], string, number][] = [
    [[0.0001, 500, 1], "silence", 500],
    [[0.5, 500, 1], "low", 500],
    [[0.5, 4000, 2], "band", 2000],
    [[0.5, 1500, 1], "high", 1500], // above: is strict
    [[0.5, 3000, 1], "high", 3000],
    [[0.5, 10, 0], "low", 0], // a zero denominator gives 0
  ];
  for (const [features, klass, centroid] of cases) {
    const r = op.handle(pulse(f32(...features)), LIMITS);
    assert.equal(r.outputs.length, 1);
    assert.equal(r.outputs[0].topic, "audio.class");
    assert.equal(r.outputs[0].contentType, "application/json");
    const out = JSON.parse(new TextDecoder().decode(r.outputs[0].payload));
    assert.equal(out.class, klass, JSON.stringify({ features, out }));
    assert.equal(out.values.centroid, centroid);
    assert.equal(out.values.energy, Math.fround(features[0]));
  }
});

Deno.test("classify: outputs match its card's output schema; non-finite inputs become 0", async () => {
  const op = await sandbox({ ...CONFIG, features: ['en"ergy', "moment", "power"], rules: [] });
  const card = compileCard((await loadBuiltin("classify")).card, "operator");
  for (const xs of [[1, 2, 3], [NaN, Infinity, -Infinity], [0, 0, 0]]) {
    const r = op.handle(pulse(f32(...xs)), LIMITS);
    assert.equal(card.output!(r.outputs[0].payload), undefined);
    const out = JSON.parse(new TextDecoder().decode(r.outputs[0].payload));
    assert.ok(Object.values(out.values).every((v) => Number.isFinite(v)));
    assert.ok('en"ergy' in out.values);
  }
  assert.equal(card.input!(f32(1, 2, 3)), undefined);
  assert.match(card.input!(new Uint8Array(3))!, /not a float32 vector/);
});

Deno.test("classify: a payload of the wrong size fails that pulse only", async () => {
  const op = await sandbox();
  for (const bad of [f32(1, 2), f32(1, 2, 3, 4), new Uint8Array(5), new Uint8Array(0)]) {
    assert.throws(() => op.handle(pulse(bad), LIMITS));
  }
  const r = op.handle(pulse(f32(0.5, 500, 1)), LIMITS);
  assert.match(new TextDecoder().decode(r.outputs[0].payload), /"class":"low"/);
});

Deno.test("classify: a bad config is refused at init, naming the member", async () => {
  const bad: [unknown, RegExp][] = [
    [[], /must be a JSON object/],
    [{ ...CONFIG, to: "" }, /to must name/],
    [{ ...CONFIG, features: [] }, /features must name 1 to 64/],
    [{ ...CONFIG, features: ["a", "a"] }, /distinct/],
    [{ ...CONFIG, ratios: { c: ["moment"] } }, /ratios.c must be/],
    [{ ...CONFIG, ratios: { c: ["moment", "nope"] } }, /not a feature/],
    [{ ...CONFIG, ratios: { energy: ["moment", "power"] } }, /name taken/],
    [{ ...CONFIG, rules: [{ class: "x", when: { nope: { below: 1 } } }] }, /no feature or ratio/],
    [{ ...CONFIG, rules: [{ class: "x", when: { energy: { under: 1 } } }] }, /unknown member/],
    [{ ...CONFIG, rules: [{ when: {} }] }, /class must be/],
    [{ ...CONFIG, default: undefined }, /default must name/],
    [{ ...CONFIG, extra: 1 }, /unknown member extra/],
    [{ ...CONFIG, features: Array.from({ length: 65 }, (_, i) => `f${i}`) }, /1 to 64/],
  ];
  for (const [config, message] of bad) {
    await assert.rejects(() => sandbox(config), message, JSON.stringify(config));
  }
});
