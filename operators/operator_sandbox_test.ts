import assert from "node:assert/strict";
import { ComponentRejectedError, Engine, SandboxTrapError } from "../runtime/sandbox/mod.ts";
import { testPolicyComponent } from "../casil/build/mod.ts";
import { testOperatorComponent } from "./build/mod.ts";
import { loadOperator, OperatorSandbox } from "./operator_sandbox.ts";
import { OperatorState } from "./state.ts";
import type { OperatorPulse } from "./world.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const LIMITS = { maxOutputs: 8, maxOutputBytes: 1024 };

function pulse(text: string): OperatorPulse {
  return {
    topic: "nums.in",
    reality: "default",
    producer: "p",
    headers: [["a", "1"]],
    contentType: "text/plain",
    payload: enc.encode(text),
    entropySeed: 7n,
    wallMs: 1000n,
    logical: 1,
  };
}

const engine = new Engine();
const component = await testOperatorComponent("counter");

Deno.test("the counter operator keeps a running sum in state and emits it", async () => {
  const state = new OperatorState(1 << 16);
  const op = new OperatorSandbox(await loadOperator(engine, component), state, '{"out":"s.t"}');
  for (const [n, want] of [[1, 1], [2, 3], [10, 13]]) {
    const r = op.handle(pulse(String(n)), LIMITS);
    assert.equal(r.outputs.length, 1);
    assert.equal(r.outputs[0].topic, "s.t");
    assert.equal(r.outputs[0].contentType, "application/json");
    assert.deepEqual(JSON.parse(dec.decode(r.outputs[0].payload)), { sum: want });
    assert.equal(dec.decode(r.changes.get("sum")!), String(want));
    assert.ok(r.fuel > 0);
  }
});

Deno.test("a trap discards the instance and its writes; the next pulse continues from committed state", async () => {
  const state = new OperatorState(1 << 16);
  const op = new OperatorSandbox(await loadOperator(engine, component), state);
  op.handle(pulse("5"), LIMITS);
  assert.throws(() => op.handle(pulse("trap"), LIMITS), (e: unknown) => {
    assert.ok(e instanceof SandboxTrapError);
    assert.equal(e.kind, "unreachable");
    return true;
  });
  assert.equal(op.discarded, 1);
  const r = op.handle(pulse("1"), LIMITS);
  assert.deepEqual(JSON.parse(dec.decode(r.outputs[0].payload)), { sum: 6 });
});

Deno.test("fuel exhaustion is a classified failure", async () => {
  const module = await loadOperator(engine, component, { fuelPerCall: 100_000, memoryPages: 64 });
  const op = new OperatorSandbox(module, new OperatorState(1 << 16));
  assert.throws(
    () => op.handle(pulse("spin"), LIMITS),
    (e: unknown) => e instanceof SandboxTrapError && e.kind === "fuel_exhausted",
  );
  assert.deepEqual(JSON.parse(dec.decode(op.handle(pulse("2"), LIMITS).outputs[0].payload)), {
    sum: 2,
  });
});

Deno.test("the state limit refuses a write with a clear error, and too many outputs fail", async () => {
  const state = new OperatorState(4);
  const logs: string[] = [];
  const op = new OperatorSandbox(
    await loadOperator(engine, component),
    state,
    "{}",
    (_l, m) => logs.push(m),
  );
  const r = op.handle(pulse("12345"), LIMITS);
  assert.equal(r.changes.size, 0);
  assert.match(logs[0], /state limit of 4 bytes exceeded/);
  assert.throws(
    () => op.handle(pulse("1"), { maxOutputs: 0, maxOutputBytes: 10 }),
    /more than the limit of 0/,
  );
});

Deno.test("init errors and policy components are refused", async () => {
  const module = await loadOperator(engine, component);
  assert.throws(
    () => new OperatorSandbox(module, new OperatorState(100), "[1]"),
    (e: unknown) =>
      e instanceof ComponentRejectedError && /config must be a JSON object/.test(e.message),
  );
  await assert.rejects(
    loadOperator(engine, await testPolicyComponent("no_shouting")),
    (e: unknown) => e instanceof ComponentRejectedError && e.reason === "wrong_world",
  );
});
