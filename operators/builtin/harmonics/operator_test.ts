/**
 * The AssemblyScript operator against the TypeScript reference: random programs on random
 * payloads (seeded), run in-process through the operator sandbox (the node's engine: fuel,
 * memory cap, instance discard), must emit the same topics and the same bytes. Half the
 * programs reach the operator as base64 bytecode, half as assembler text (the operator's own
 * assembler), so both assemblers are held to the same bytes.
 */
import assert from "node:assert/strict";
import { base64 } from "@scure/base";
import { Engine } from "../../../runtime/sandbox/mod.ts";
import { loadOperator, type OperatorPulse, OperatorSandbox, OperatorState } from "../../mod.ts";
import { assemble, buildHarmonics, decodeProgram, run } from "./mod.ts";
import { mulberry32, randomPayload, randomProgram } from "./testdata/gen.ts";

const engine = new Engine();
const module = await loadOperator(engine, await buildHarmonics());
const LIMITS = { maxOutputs: 64, maxOutputBytes: 1 << 20 };

function pulse(payload: Uint8Array): OperatorPulse {
  return {
    topic: "vec.in",
    reality: "default",
    producer: "p",
    headers: [],
    contentType: "application/octet-stream",
    payload,
    entropySeed: 1n,
    wallMs: 1n,
    logical: 0,
  };
}

function sandbox(config: Record<string, unknown>, logs?: string[]): OperatorSandbox {
  return new OperatorSandbox(
    module,
    new OperatorState(1 << 16),
    JSON.stringify(config),
    (_level, message) => logs?.push(message),
  );
}

const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");

Deno.test("random programs on random payloads: the operator's bytes equal the reference's", () => {
  const rnd = mulberry32(0x4a524d31);
  let cases = 0;
  let floatsOut = 0;
  for (let p = 0; p < 300; p++) {
    const { text, floats } = randomProgram(rnd);
    const bytes = assemble(text);
    const program = decodeProgram(bytes);
    const config = p % 2 === 0 ? { program: base64.encode(bytes) } : { source: text };
    const op = sandbox(config);
    for (let k = 0; k < 4; k++) {
      const payload = randomPayload(rnd, floats + Math.floor(rnd() * 3));
      const want = run(program, payload);
      const got = op.handle(pulse(payload), LIMITS).outputs;
      assert.equal(got.length, want.length, text);
      for (let i = 0; i < want.length; i++) {
        assert.equal(got[i].topic, want[i].topic);
        assert.equal(got[i].contentType, "application/octet-stream");
        assert.equal(hex(got[i].payload), hex(want[i].payload), `program ${p}:\n${text}`);
        floatsOut += want[i].payload.length / 4;
      }
      cases++;
    }
  }
  assert.equal(cases, 1200);
  assert.ok(floatsOut > 5000, `${floatsOut} floats compared`);
});

Deno.test("activations over 4096-float sweeps: bit-identical to the reference", () => {
  const rnd = mulberry32(7);
  for (const act of ["relu", "sigmoid", "tanh"]) {
    const text = `load r0, 0, 4096\nact r1, r0, ${act}\nstore r1, 0\nemit act.out\n`;
    const program = decodeProgram(assemble(text));
    const op = sandbox({ source: text });
    for (let round = 0; round < 6; round++) {
      const values = new Float32Array(4096);
      for (let i = 0; i < values.length; i++) {
        // Round 0: a dense ramp over [-30, 30]; then random magnitudes 2^-30 .. 2^8.
        values[i] = round === 0
          ? -30 + (60 * i) / 4096
          : (rnd() < 0.5 ? -1 : 1) * 2 ** (rnd() * 38 - 30);
      }
      const payload = new Uint8Array(values.buffer);
      const want = run(program, payload)[0].payload;
      const got = op.handle(pulse(payload), LIMITS).outputs[0].payload;
      assert.equal(hex(got), hex(want), `${act} round ${round}`);
    }
  }
});

Deno.test("config topics replace the program's table", () => {
  const bytes = assemble("load r0, 0, 1\nstore r0, 0\nemit 0\nemit 1\n");
  const op = sandbox({ program: base64.encode(bytes), topics: ["a.b", "c.d"] });
  const out = op.handle(pulse(new Uint8Array(new Float32Array([2.5]).buffer)), LIMITS).outputs;
  assert.deepEqual(out.map((o) => o.topic), ["a.b", "c.d"]);
  assert.deepEqual(Array.from(new Float32Array(out[0].payload.slice().buffer)), [2.5]);
  assert.equal(out[1].payload.length, 0, "EMIT resets the output buffer");
});
