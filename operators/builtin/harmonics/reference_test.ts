import assert from "node:assert/strict";
import {
  assemble,
  decodeProgram,
  expF32,
  HarmonicsProgramError,
  HarmonicsRunError,
  run,
  sigmoidF32,
  tanhF32,
} from "./mod.ts";
import { BAD_BYTES } from "./testdata/bad.ts";

const f32 = (...v: number[]) => new Uint8Array(new Float32Array(v).buffer);
const floats = (b: Uint8Array) => Array.from(new Float32Array(b.slice().buffer));
const exec = (text: string, ...input: number[]) =>
  run(decodeProgram(assemble(text)), f32(...input)).map((e) => [e.topic, floats(e.payload)]);

Deno.test("each opcode does what the table says", () => {
  assert.deepEqual(
    exec(
      "load r0, 1, 3\nconst r1, 1, 2, 3\ndot r2, r0, r1\nsum r3, r0\nscale r4, r0, 2\n" +
        "add r5, r0, r2\nmul r6, r0, r1\nact r7, r4, relu\n" +
        "store r2, 0\nstore r3, 1\nstore r4, 2\nemit a.b\nstore r5, 0\nstore r6, 3\nstore r7, 6\nemit c.d",
      9,
      1,
      -2,
      3,
    ),
    [
      ["a.b", [6, 2, 2, -4, 6]],
      ["c.d", [7, 4, 9, 1, -4, 9, 2, 0, 6]],
    ],
  );
  // Gaps in the output buffer are zeros; EMIT of nothing is an empty payload.
  assert.deepEqual(exec("load r0, 0, 1\nstore r0, 2\nemit x\nemit x", 5), [["x", [0, 0, 5]], [
    "x",
    [],
  ]]);
});

Deno.test("sources are read before the destination is written (broadcast into itself)", () => {
  assert.deepEqual(
    exec("load r0, 0, 1\nload r1, 1, 3\nadd r0, r0, r1\nstore r0, 0\nemit o", 10, 1, 2, 3),
    [["o", [11, 12, 13]]],
  );
  assert.deepEqual(
    exec("load r0, 0, 3\nload r1, 3, 1\nmul r1, r0, r1\nstore r1, 0\nemit o", 1, 2, 3, 10),
    [["o", [10, 20, 30]]],
  );
});

Deno.test("NaNs leave as 0x7fc00000; sums run left to right in float32", () => {
  const out = run(
    decodeProgram(assemble("load r0, 0, 2\nmul r1, r0, r0\nstore r1, 0\nemit o")),
    new Uint8Array([0, 0, 0x80, 0x7f, 1, 0, 0xc0, 0xff]), // +inf, a negative NaN with payload
  );
  // inf * inf = inf; NaN * NaN = NaN, written canonically.
  assert.deepEqual(Array.from(out[0].payload), [0, 0, 0x80, 0x7f, 0, 0, 0xc0, 0x7f]);
  // 2^24 + 1 + 1 in float32 is 2^24 (each step rounds), not 2^24 + 2.
  assert.deepEqual(exec("load r0, 0, 3\nsum r1, r0\nstore r1, 0\nemit o", 2 ** 24, 1, 1), [[
    "o",
    [2 ** 24],
  ]]);
});

Deno.test("exp, sigmoid and tanh stay within a few float32 ulps of the float64 functions", () => {
  const ulp = (x: number) => {
    const a = Math.abs(Math.fround(x));
    if (a < 2 ** -126) return 2 ** -149;
    return 2 ** (Math.floor(Math.log2(a)) - 23);
  };
  let worst = { exp: 0, sigmoid: 0, tanh: 0 };
  for (let i = 0; i <= 200_000; i++) {
    const x = Math.fround(-80 + (160 * i) / 200_000);
    const e = Math.exp(x);
    if (e > 2 ** -126) worst.exp = Math.max(worst.exp, Math.abs(expF32(x) - e) / ulp(e));
    const s = 1 / (1 + Math.exp(-x));
    worst.sigmoid = Math.max(worst.sigmoid, Math.abs(sigmoidF32(x) - s) / ulp(s));
    const t = Math.tanh(x / 8);
    if (t !== 0) {
      worst.tanh = Math.max(worst.tanh, Math.abs(tanhF32(Math.fround(x / 8)) - t) / ulp(t));
    }
  }
  worst = {
    exp: +worst.exp.toFixed(2),
    sigmoid: +worst.sigmoid.toFixed(2),
    tanh: +worst.tanh.toFixed(2),
  };
  console.log("worst error in float32 ulps:", JSON.stringify(worst));
  assert.ok(worst.exp <= 2 && worst.sigmoid <= 3 && worst.tanh <= 3, JSON.stringify(worst));
  assert.equal(expF32(89), Infinity);
  assert.equal(expF32(-88), 0);
  assert.ok(Object.is(tanhF32(-0), -0));
  assert.equal(tanhF32(30), 1);
  assert.equal(sigmoidF32(-200), 0);
  assert.ok(Number.isNaN(sigmoidF32(NaN)) && Number.isNaN(tanhF32(NaN)));
});

Deno.test("bad bytecode is refused at load time with a typed error", () => {
  for (const [what, bytes, message] of BAD_BYTES) {
    assert.throws(() => decodeProgram(bytes), (e: unknown) => {
      assert.ok(e instanceof HarmonicsProgramError, `${what}: ${e}`);
      assert.equal(e.code, "INVALID_ARGUMENT");
      assert.match(e.message, message, what);
      return true;
    });
  }
});

Deno.test("a LOAD past the payload and a ragged payload fail the run, typed", () => {
  const program = decodeProgram(assemble("load r0, 2, 3\nstore r0, 0\nemit o"));
  assert.equal(run(program, f32(1, 2, 3, 4, 5)).length, 1);
  assert.throws(
    () => run(program, f32(1, 2, 3, 4)),
    (e: unknown) =>
      e instanceof HarmonicsRunError &&
      e.message === "instruction 0: load: reads floats [2, 5) of a payload of 4",
  );
  assert.throws(
    () => run(program, new Uint8Array(21)),
    /payload of 21 bytes is not a whole number/,
  );
  const far = decodeProgram(assemble("load r0, 4294967295, 1\nemit o"));
  assert.throws(
    () => run(far, f32(1)),
    /reads floats \[4294967295, 4294967296\) of a payload of 1/,
  );
});
