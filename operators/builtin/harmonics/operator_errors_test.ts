/**
 * The operator refusing what the reference refuses, with the same messages: bad text (same
 * line), bad bytecode, bad configs at `init`; and at run time a LOAD past the payload fails
 * the pulse (a trap the sandbox survives, the reason logged) while the next pulse runs.
 */
import assert from "node:assert/strict";
import { base64 } from "@scure/base";
import { ComponentRejectedError, Engine, SandboxTrapError } from "../../../runtime/sandbox/mod.ts";
import { loadOperator, type OperatorPulse, OperatorSandbox, OperatorState } from "../../mod.ts";
import { assemble, buildHarmonics, decodeProgram, HarmonicsRunError, run } from "./mod.ts";
import { BAD_BYTES, BAD_TEXT } from "./testdata/bad.ts";

const engine = new Engine();
const component = await buildHarmonics();
const module = await loadOperator(engine, component);
const LIMITS = { maxOutputs: 64, maxOutputBytes: 1 << 20 };
const f32 = (...v: number[]) => new Uint8Array(new Float32Array(v).buffer);

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

/** The message `init` refuses `config` with (asserting it is refused). */
function refusal(config: unknown): string {
  let message = "";
  assert.throws(
    () => new OperatorSandbox(module, new OperatorState(1024), JSON.stringify(config)),
    (e: unknown) => {
      assert.ok(e instanceof ComponentRejectedError, String(e));
      assert.equal(e.reason, "configure_failed");
      message = e.message;
      return true;
    },
  );
  const prefix = "init rejected the configuration: harmonics: ";
  assert.ok(message.startsWith(prefix), message);
  return message.slice(prefix.length);
}

Deno.test("bad text: the operator's assembler names the same line with the same words", () => {
  for (const [text] of BAD_TEXT) {
    let want = "";
    try {
      assemble(text);
    } catch (e) {
      want = (e as Error).message;
    }
    assert.equal(refusal({ source: text }), want, text);
  }
});

Deno.test("bad bytecode: the operator's validator says what the reference's says", () => {
  for (const [what, bytes] of BAD_BYTES) {
    let want = "";
    try {
      decodeProgram(bytes);
    } catch (e) {
      want = (e as Error).message;
    }
    assert.equal(refusal({ program: base64.encode(bytes) }), want, what);
  }
});

Deno.test("size limits past their edge: 4,097 instructions, 65 emits, as the reference says", () => {
  const many = (n: number, line: string) => Array.from({ length: n }, () => line).join("\n");
  for (
    const text of [
      "load r0, 0, 1\n" + many(4096, "sum r0, r0"),
      many(65, "emit a.b"),
      Array.from({ length: 17 }, (_, i) => `.topic t${i}`).join("\n"),
    ]
  ) {
    let want = "";
    try {
      assemble(text);
    } catch (e) {
      want = (e as Error).message;
    }
    assert.match(want, /line \d+: .*more than/);
    assert.equal(refusal({ source: text }), want);
  }
  // One under each limit is accepted.
  for (const text of ["load r0, 0, 1\n" + many(4095, "sum r0, r0"), many(64, "emit a.b")]) {
    new OperatorSandbox(module, new OperatorState(1024), JSON.stringify({ source: text }));
  }
});

Deno.test("bad configs are refused at init", () => {
  const ok = base64.encode(assemble("load r0, 0, 1\nstore r0, 0\nemit 0"));
  assert.match(refusal([1]), /config must be a JSON object/);
  assert.match(refusal({}), /exactly one of program \(base64\) and source \(text\)/);
  assert.match(refusal({ program: ok, source: "x" }), /exactly one of/);
  assert.match(refusal({ program: ok, extra: 1 }), /unknown config member 'extra'/);
  assert.match(refusal({ program: "@@@@" }), /program is not valid base64/);
  assert.match(refusal({ program: 7 }), /program must be a base64 string/);
  assert.match(refusal({ source: 7 }), /source must be assembler text/);
  assert.match(refusal({ program: ok }), /topic 0 is not below the 0 topics/);
  assert.match(refusal({ program: ok, topics: "a.b" }), /topics must be an array of topics/);
  assert.match(refusal({ program: ok, topics: ["a.>"] }), /topic 0: topic segment '>' must match/);
  assert.match(
    refusal({ program: ok, topics: Array.from({ length: 17 }, (_, i) => `t${i}`) }),
    /17 topics, more than 16/,
  );
  assert.match(refusal({ program: "A".repeat(100_000) }), /over the limit of 65536/);
  assert.match(refusal({ source: " ".repeat(65_537) }), /source is longer than 65536 characters/);
  // Within the limits, the same program is accepted.
  new OperatorSandbox(
    module,
    new OperatorState(1024),
    JSON.stringify({ program: ok, topics: ["a.b"] }),
  );
});

Deno.test("a LOAD past the payload fails that pulse with its reason; the next pulse runs", () => {
  const text = "load r0, 1, 2\nsum r1, r0\nstore r1, 0\nemit s.o\n";
  const logs: string[] = [];
  const op = new OperatorSandbox(
    module,
    new OperatorState(1024),
    JSON.stringify({ source: text }),
    (_level, message) => logs.push(message),
  );
  const ref = decodeProgram(assemble(text));
  for (const payload of [f32(1, 2), new Uint8Array(10), new Uint8Array(0)]) {
    let want = "";
    assert.throws(() => run(ref, payload), (e: unknown) => {
      want = (e as HarmonicsRunError).message;
      return e instanceof HarmonicsRunError;
    });
    assert.throws(
      () => op.handle(pulse(payload), LIMITS),
      (e: unknown) => e instanceof SandboxTrapError && e.kind === "unreachable",
    );
    assert.equal(logs.at(-1), `harmonics: ${want}`);
  }
  assert.equal(op.discarded, 3);
  const out = op.handle(pulse(f32(1, 2, 3)), LIMITS).outputs;
  assert.deepEqual(Array.from(new Float32Array(out[0].payload.slice().buffer)), [5]);
});

Deno.test("fuel bounds a heavy program and the output limits bound its emits", async () => {
  const heavy = "load r0, 0, 4096\n" + "act r0, r0, tanh\n".repeat(200) + "store r0, 0\nemit h.o\n";
  const small = await loadOperator(engine, component, { fuelPerCall: 1_000_000, memoryPages: 64 });
  const op = new OperatorSandbox(small, new OperatorState(1024), JSON.stringify({ source: heavy }));
  assert.throws(
    () => op.handle(pulse(new Uint8Array(4 * 4096)), LIMITS),
    (e: unknown) => e instanceof SandboxTrapError && e.kind === "fuel_exhausted",
  );
  const three = JSON.stringify({ source: "emit a\nemit a\nemit a" });
  const op3 = new OperatorSandbox(module, new OperatorState(1024), three);
  assert.equal(op3.handle(pulse(new Uint8Array(0)), LIMITS).outputs.length, 3);
  assert.throws(
    () => op3.handle(pulse(new Uint8Array(0)), { maxOutputs: 2, maxOutputBytes: 10 }),
    /handle returned 3 pulses, more than the limit of 2/,
  );
});
