import assert from "node:assert/strict";
import { Engine, SandboxTrapError } from "../runtime/sandbox/mod.ts";
import { MAX_EIGENVALUES } from "../runtime/protocol/mod.ts";
import { testOperatorComponent } from "./build/mod.ts";
import { loadOperator, OperatorSandbox } from "./operator_sandbox.ts";
import { OperatorState } from "./state.ts";
import type { OperatorPulse, OperatorSpectral } from "./world.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const LIMITS = { maxOutputs: 8, maxOutputBytes: 4096 };
const engine = new Engine();
const component = await testOperatorComponent("spectral_echo");

function pulse(text: string, spectral: OperatorSpectral | null = null): OperatorPulse {
  return {
    topic: "mesh.in",
    reality: "lab",
    producer: "sensor-1",
    headers: [["a", "1"], ["b", "two"]],
    contentType: "text/plain",
    payload: enc.encode(text),
    entropySeed: 0xfedcba9876543210n,
    wallMs: 1_700_000_000_123n,
    logical: 42,
    spectral,
  };
}

const fresh = async () =>
  new OperatorSandbox(await loadOperator(engine, component), new OperatorState(1 << 16));

Deno.test("the pulse record crosses in memory: every field reaches the guest", async () => {
  const op = await fresh();
  const r = op.handle(pulse("hi", { coherence: 0.5, criticality: 0.1, eigenvalues: [] }), LIMITS);
  assert.deepEqual(JSON.parse(dec.decode(r.outputs[0].payload)), {
    topic: "mesh.in",
    reality: "lab",
    producer: "sensor-1",
    content_type: "text/plain",
    payload: "hi",
    headers: [["a", "1"], ["b", "two"]],
    seed: "18364758544493064720",
    wall: "1700000000123",
    logical: 42,
    spectral: true,
  });
  // Without spectral (absent or null) the guest sees null.
  const none = op.handle({ ...pulse("x"), spectral: undefined }, LIMITS);
  assert.equal(JSON.parse(dec.decode(none.outputs[0].payload)).spectral, false);
  assert.deepEqual(none.outputs[0].spectral, { coherence: -1, criticality: 0, eigenvalues: [] });
});

Deno.test("spectral metadata round-trips: read on the input, set on the output", async () => {
  const op = await fresh();
  for (let round = 0; round < 20; round++) {
    const n = round % 2 === 0 ? round * 3 : 1;
    const eigenvalues = Array.from({ length: n }, () => (Math.random() - 0.5) * 1e6);
    const c = Math.random();
    const k = -Math.random() * 1e-3;
    const r = op.handle(pulse("go", { coherence: c, criticality: k, eigenvalues }), LIMITS);
    assert.deepEqual(r.outputs[0].spectral, {
      coherence: c + 1,
      criticality: k * 2,
      eigenvalues: [...eigenvalues].reverse(),
    });
  }
  assert.equal(op.handle(pulse("none"), LIMITS).outputs[0].spectral, null);
  const max = op.handle(pulse("max"), LIMITS).outputs[0].spectral!;
  assert.equal(max.eigenvalues.length, MAX_EIGENVALUES);
  assert.equal(max.eigenvalues[63], 31.5);
});

Deno.test("an output over the eigenvalue bound or with NaN fails the pulse; the next one works", async () => {
  const op = await fresh();
  for (
    const [cmd, why] of [
      ["many", /output 0 has 65 eigenvalues, more than the limit of 64/],
      ["nan", /output 0: spectral.coherence must be a finite number, got NaN/],
      ["two", /output 1 has 65 eigenvalues/],
    ] as const
  ) {
    assert.throws(() => op.handle(pulse(cmd), LIMITS), (e: unknown) => {
      assert.ok(e instanceof SandboxTrapError, String(e));
      assert.equal(e.kind, "bad_result");
      assert.match(e.message, why);
      return true;
    });
    const ok = op.handle(pulse("go", { coherence: 0, criticality: 0, eigenvalues: [1] }), LIMITS);
    assert.deepEqual(ok.outputs[0].spectral, { coherence: 1, criticality: 0, eigenvalues: [1] });
  }
});
