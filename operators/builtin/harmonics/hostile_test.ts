/**
 * Hostile programs: mutated bytecode (flipped bits, changed bytes, cut or grown programs) must
 * be accepted or refused by the operator exactly as by the reference's validator, with the
 * same message, and when accepted must compute the same bytes: the operator reads registers
 * without bounds checks after validation, so its validator must never let through what the
 * reference's refuses. And the size limits at their edges, under the default fuel and a
 * small memory cap.
 */
import assert from "node:assert/strict";
import { base64 } from "@scure/base";
import {
  ComponentRejectedError,
  DEFAULT_LIMITS,
  Engine,
  SandboxTrapError,
} from "../../../runtime/sandbox/mod.ts";
import { loadOperator, type OperatorPulse, OperatorSandbox, OperatorState } from "../../mod.ts";
import { assemble, buildHarmonics, decodeProgram, HarmonicsRunError, LIMITS, run } from "./mod.ts";
import { mulberry32, randomPayload, randomProgram } from "./testdata/gen.ts";

const engine = new Engine();
const component = await buildHarmonics();
const module = await loadOperator(engine, component, DEFAULT_LIMITS);
const OUT = { maxOutputs: 64, maxOutputBytes: 1 << 20 };
const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");

function pulse(payload: Uint8Array): OperatorPulse {
  return {
    topic: "vec.in",
    reality: "default",
    producer: "p",
    headers: [],
    contentType: "",
    payload,
    entropySeed: 0n,
    wallMs: 0n,
    logical: 0,
  };
}

function mutate(rnd: () => number, bytes: Uint8Array): Uint8Array {
  const int = (n: number) => Math.floor(rnd() * n);
  const out = bytes.slice();
  switch (int(4)) {
    case 0: // flip bits
      for (let k = 1 + int(3); k > 0; k--) out[int(out.length)] ^= 1 << int(8);
      return out;
    case 1: // set a byte anywhere past the magic
      out[4 + int(out.length - 4)] = int(256);
      return out;
    case 2: // cut
      return out.subarray(0, int(out.length));
    default: { // grow with junk
      const grown = new Uint8Array(out.length + 1 + int(24));
      grown.set(out);
      for (let i = out.length; i < grown.length; i++) grown[i] = int(256);
      return grown;
    }
  }
}

Deno.test("mutated bytecode: the operator accepts, refuses and computes as the reference does", () => {
  const rnd = mulberry32(0xbad);
  let refused = 0;
  let accepted = 0;
  for (let n = 0; n < 1500; n++) {
    const { text, floats } = randomProgram(rnd);
    const bytes = mutate(rnd, assemble(text));
    let program = null;
    let want = "";
    try {
      program = decodeProgram(bytes);
    } catch (e) {
      want = (e as Error).message;
    }
    const config = JSON.stringify({ program: base64.encode(bytes) });
    if (program === null) {
      assert.throws(
        () => new OperatorSandbox(module, new OperatorState(1024), config),
        (e: unknown) =>
          e instanceof ComponentRejectedError && e.message.endsWith(`harmonics: ${want}`),
        `mutant ${n}: ${want}`,
      );
      refused++;
      continue;
    }
    // The reference's lenient topic rule (no table: indices < 16) is the config's job; the
    // operator holds a table-less program to the (empty) table.
    if (program.topics.length === 0 && program.code.some((i) => i.op === 0x08)) continue;
    const op = new OperatorSandbox(module, new OperatorState(1024), config);
    accepted++;
    for (let k = 0; k < 3; k++) {
      const payload = randomPayload(rnd, floats + int(rnd, 4) - 1);
      let wantOut = null;
      try {
        wantOut = run(program, payload);
      } catch (e) {
        assert.ok(e instanceof HarmonicsRunError);
      }
      if (wantOut === null) {
        assert.throws(
          () => op.handle(pulse(payload), OUT),
          (e: unknown) => e instanceof SandboxTrapError && e.kind === "unreachable",
        );
        continue;
      }
      const got = op.handle(pulse(payload), OUT).outputs;
      assert.deepEqual(got.map((o) => o.topic), wantOut.map((o) => o.topic));
      assert.deepEqual(got.map((o) => hex(o.payload)), wantOut.map((o) => hex(o.payload)));
    }
  }
  assert.ok(refused > 500 && accepted > 100, `${refused} refused, ${accepted} accepted`);
});

const JUNK = [
  " ",
  ",",
  ";",
  "r",
  "R9",
  "0x",
  "1e",
  "-",
  ".",
  "\t",
  "relu",
  "f32:0x3f80000",
  "9".repeat(12),
  "é",
  "const",
  ".topic",
  "\u212a",
];

function mutateText(rnd: () => number, text: string): string {
  const lines = text.split("\n");
  const at = int(rnd, lines.length);
  const line = lines[at];
  const pos = int(rnd, line.length + 1);
  switch (int(rnd, 5)) {
    case 0:
      lines[at] = line.slice(0, pos) + line.slice(pos + 1 + int(rnd, 3));
      break;
    case 1:
      lines[at] = line.slice(0, pos) + JUNK[int(rnd, JUNK.length)] + line.slice(pos);
      break;
    case 2:
      lines[at] = line.toUpperCase();
      break;
    case 3:
      lines.splice(at, 1);
      break;
    default:
      lines.splice(at, 0, lines[int(rnd, lines.length)]);
  }
  return lines.join("\n");
}

Deno.test("mutated text: the operator's assembler agrees with the reference's", () => {
  const rnd = mulberry32(0x7e47);
  let refused = 0;
  let accepted = 0;
  for (let n = 0; n < 800; n++) {
    const { text, floats } = randomProgram(rnd);
    const source = mutateText(rnd, text);
    let bytes = null;
    let want = "";
    try {
      bytes = assemble(source);
    } catch (e) {
      want = (e as Error).message;
    }
    const config = JSON.stringify({ source });
    if (bytes === null) {
      assert.throws(
        () => new OperatorSandbox(module, new OperatorState(1024), config),
        (e: unknown) =>
          e instanceof ComponentRejectedError && e.message.endsWith(`harmonics: ${want}`),
        `mutant ${n}: ${want}\n${source}`,
      );
      refused++;
      continue;
    }
    const program = decodeProgram(bytes);
    if (program.topics.length === 0 && program.code.some((i) => i.op === 0x08)) continue;
    const op = new OperatorSandbox(module, new OperatorState(1024), config);
    accepted++;
    const payload = randomPayload(rnd, floats);
    let wantOut = null;
    try {
      wantOut = run(program, payload);
    } catch {
      continue;
    }
    const got = op.handle(pulse(payload), OUT).outputs;
    assert.deepEqual(got.map((o) => hex(o.payload)), wantOut.map((o) => hex(o.payload)), source);
  }
  assert.ok(refused > 150 && accepted > 150, `${refused} refused, ${accepted} accepted`);
});

function int(rnd: () => number, n: number): number {
  return Math.max(0, Math.floor(rnd() * n));
}

Deno.test("the largest program and the longest text initialise within the default fuel", () => {
  // 64 KiB of bytecode exactly: 3 CONSTs of 4096 floats and one of the remainder.
  const head = 12 + 4; // header and one topic "o.o"
  const last = (LIMITS.programBytes - head - 3 * (8 + 4 * 4096) - 8 - 12 - 8) / 4;
  const values = (n: number) => Array.from({ length: n }, (_, i) => (i % 97) / 8).join(", ");
  const text = [0, 1, 2].map((r) => `const r${r}, ${values(4096)}`).join("\n") +
    `\nconst r3, ${values(last)}\nstore r3, 0\nemit o.o\n`;
  const bytes = assemble(text);
  assert.equal(bytes.length, LIMITS.programBytes);
  const op = new OperatorSandbox(
    module,
    new OperatorState(1024),
    JSON.stringify({ program: base64.encode(bytes) }),
  );
  const out = op.handle(pulse(new Uint8Array(0)), OUT).outputs;
  assert.equal(hex(out[0].payload), hex(run(decodeProgram(bytes), new Uint8Array(0))[0].payload));
  // Text near the 65,536-character limit: a few thousand short lines.
  const lines = ["load r0, 0, 4"];
  while (lines.join("\n").length < 65_000) lines.push("add r1, r0, r0 ; comment");
  lines.push("store r1, 0", "emit o");
  const source = lines.join("\n");
  assert.ok(source.length <= 65_536 && lines.length > 2000);
  const op2 = new OperatorSandbox(module, new OperatorState(1024), JSON.stringify({ source }));
  assert.equal(op2.handle(pulse(new Uint8Array(16)), OUT).outputs.length, 1);
});

Deno.test("a memory cap too small for the registers refuses the program at init", async () => {
  const small = await loadOperator(engine, component, { fuelPerCall: 10_000_000, memoryPages: 4 });
  const big = ".registers 64\n.length 4096\nload r63, 0, 4096\nstore r63, 0\nemit o\n";
  assert.throws(
    () => new OperatorSandbox(small, new OperatorState(1024), JSON.stringify({ source: big })),
    (e: unknown) => e instanceof ComponentRejectedError && /memory cap of 4 pages/.test(e.message),
  );
  // The same operator with fewer registers runs under that cap.
  const fits = "load r0, 0, 2\nstore r0, 0\nemit o\n";
  const op = new OperatorSandbox(small, new OperatorState(1024), JSON.stringify({ source: fits }));
  assert.equal(op.handle(pulse(new Uint8Array(8)), OUT).outputs[0].payload.length, 8);
});
