import assert from "node:assert/strict";
import { Engine } from "../../../runtime/sandbox/mod.ts";
import { buildOperatorCached, OPERATOR_BUILD_DIR, REPO_ROOT } from "../../build/mod.ts";
import { loadOperator, OperatorSandbox } from "../../operator_sandbox.ts";
import { OperatorState } from "../../state.ts";
import { loadBuiltin } from "../mod.ts";

const component = await buildOperatorCached(
  `${REPO_ROOT}operators/builtin/echo/assembly/operator.ts`,
  `${OPERATOR_BUILD_DIR}builtin/echo.wasm`,
);
const engine = new Engine();
const LIMITS = { maxOutputs: 4, maxOutputBytes: 1 << 16 };

Deno.test("echo republishes payload, content type and headers on its configured topic", async () => {
  const module = await loadOperator(engine, component);
  const op = new OperatorSandbox(module, new OperatorState(1024), '{"to":"out.copy"}');
  const payload = new Uint8Array([0, 1, 2, 255, 128]);
  for (let i = 0; i < 3; i++) {
    const r = op.handle({
      topic: `in.k${i}`,
      reality: "default",
      producer: "p",
      headers: [["a", "1"], ["n", String(i)]],
      contentType: "application/x-test",
      payload,
      entropySeed: 1n,
      wallMs: 2n,
      logical: 3,
    }, LIMITS);
    assert.equal(r.outputs.length, 1);
    const out = r.outputs[0];
    assert.equal(out.topic, "out.copy");
    assert.deepEqual(out.payload, payload);
    assert.equal(out.contentType, "application/x-test");
    assert.deepEqual(out.headers, [["a", "1"], ["n", String(i)]]);
    assert.equal(r.changes.size, 0);
  }
});

Deno.test("echo refuses a config without a topic", async () => {
  const module = await loadOperator(engine, component);
  for (const config of ["{}", '{"to":""}', '{"to":3}', "[]"]) {
    assert.throws(() => new OperatorSandbox(module, new OperatorState(1024), config), /config/);
  }
});

Deno.test("the registry ships echo with its card", async () => {
  const echo = await loadBuiltin("echo");
  assert.deepEqual(echo.component, component);
  assert.deepEqual((echo.card as { capabilities: string[] }).capabilities, ["republish"]);
  await assert.rejects(() => loadBuiltin("nope"), /no built-in operator "nope"/);
  await assert.rejects(() => loadBuiltin("../echo"), /no built-in operator/);
});
