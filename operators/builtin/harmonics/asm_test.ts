import assert from "node:assert/strict";
import { assemble, decodeProgram, disassemble, formatF32, HarmonicsAsmError, run } from "./mod.ts";
import { parseF32, toBits } from "./f32math.ts";
import { BAD_TEXT } from "./testdata/bad.ts";
import { mulberry32, randomProgram } from "./testdata/gen.ts";

const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join(" ");

Deno.test("the documented example assembles to the documented bytes", () => {
  const bytes = assemble(
    ".registers 2\n.length 3\n.topic v.o\nload r0, 1, 3 ; comment\nscale r1, r0, 0.5\n" +
      "act r1, r1, tanh\nstore r1, 2\nemit v.o\n",
  );
  assert.equal(
    hex(bytes),
    [
      "48 41 52 4d 01 02 03 00 01 00 00 00", // HARM v1, 2 registers of 3, 1 topic
      "03 76 2e 6f", // "v.o"
      "01 00 00 00 00 00 00 00 01 00 00 00 03 00 00 00", // load r0, 1, 3
      "04 00 01 00 00 00 00 00 00 00 00 3f", // scale r1, r0, 0.5
      "06 03 01 00 01 00 00 00", // act r1, r1, tanh
      "07 00 00 00 01 00 00 00 02 00 00 00", // store r1, 2
      "08 00 00 00 00 00 00 00", // emit #0
    ].join(" "),
  );
});

Deno.test("defaults: registers and length follow what the code uses", () => {
  const p = decodeProgram(assemble("LOAD R5, 0, 7\nsum r2, r5\nconst r1, 1, 2\nemit x.y"));
  assert.equal(p.registers, 6);
  assert.equal(p.length, 7);
  assert.deepEqual(p.topics, ["x.y"]);
});

Deno.test("disassembling then assembling gives the same bytes (300 random programs)", () => {
  const rnd = mulberry32(99);
  for (let i = 0; i < 300; i++) {
    const bytes = assemble(randomProgram(rnd).text);
    const text = disassemble(bytes);
    assert.equal(hex(assemble(text)), hex(bytes), text);
    assert.equal(disassemble(assemble(text)), text);
  }
});

Deno.test("float32 literals: every value prints as text that reads back to its bits", () => {
  const rnd = mulberry32(5);
  const specials = [0, 0x80000000, 0x7f800000, 0xff800000, 0x7fc00000, 0x7fc00001, 1, 0x00800000];
  for (let i = 0; i < 20_000; i++) {
    const bits = i < specials.length ? specials[i] : Math.floor(rnd() * 2 ** 32);
    const text = formatF32(bits);
    const program = decodeProgram(assemble(`const r0, ${text}\n`));
    assert.equal(program.code[0].consts[0], bits, `${bits.toString(16)} as ${text}`);
  }
  assert.equal(formatF32(toBits(0.1)), "0.1");
  assert.equal(toBits(parseF32("1e-45")!), 1);
  assert.equal(parseF32("1.5e"), null);
  assert.equal(parseF32("--1"), null);
  assert.equal(parseF32("."), null);
});

Deno.test("bad text is a typed error naming its line", () => {
  for (const [text, line, message] of BAD_TEXT) {
    assert.throws(() => assemble(text), (e: unknown) => {
      assert.ok(e instanceof HarmonicsAsmError, `${text}: ${e}`);
      assert.equal(e.line, line, `${text}: ${e.message}`);
      assert.equal(e.code, "INVALID_ARGUMENT");
      assert.match(e.message, message);
      assert.ok(e.message.startsWith(`line ${line}: `));
      return true;
    });
  }
});

Deno.test("limits of a program's size: 4096 instructions, 64 emits, 16 topics", () => {
  const many = (n: number, line: string) => Array.from({ length: n }, () => line).join("\n");
  assemble("load r0, 0, 1\n" + many(4095, "sum r0, r0"));
  assert.throws(
    () => assemble("load r0, 0, 1\n" + many(4096, "sum r0, r0")),
    (e: unknown) =>
      e instanceof HarmonicsAsmError && e.line === 4097 && /more than 4096/.test(e.message),
  );
  assemble(many(64, "emit a.b"));
  assert.throws(() => assemble(many(65, "emit a.b")), /line 65: .*more than 64 emits/);
  const topics = (n: number) => Array.from({ length: n }, (_, i) => `.topic t${i}`).join("\n");
  assemble(topics(16));
  assert.throws(() => assemble(topics(17)), /line 17: 17 topics, more than 16/);
  const huge = Array.from(
    { length: 4 },
    () => "const r0, " + many(4096, "1").replace(/\n/g, ", "),
  );
  assert.throws(() => assemble(huge.join("\n")), /line 4: program of \d+ bytes is over the limit/);
});

Deno.test("the example of docs/operators.md assembles and computes what it says", async () => {
  const doc = await Deno.readTextFile(new URL("../../../docs/operators.md", import.meta.url));
  const section = doc.slice(doc.indexOf("### Assembler"));
  const start = section.indexOf("```\n") + 4;
  const text = section.slice(start, section.indexOf("\n```", start));
  const out = run(
    decodeProgram(assemble(text)),
    new Uint8Array(new Float32Array([1, 2, 3]).buffer),
  );
  assert.equal(out.length, 1);
  assert.equal(out[0].topic, "vec.out");
  const [y, sum] = new Float32Array(out[0].payload.slice().buffer);
  assert.ok(Math.abs(y - Math.tanh(0.5 - 2 + 6 + 0.1)) < 1e-6, String(y));
  assert.equal(sum, 6);
});
