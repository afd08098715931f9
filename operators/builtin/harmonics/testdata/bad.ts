/**
 * Bad programs shared by the reference's and the operator's tests: text with the line its
 * error names, and bytecode with the validator's message.
 * @module
 */
import { assemble } from "../asm.ts";

/** Bad text: the line the error names and what it says. */
export const BAD_TEXT: readonly [string, number, RegExp][] = [
  ["load r0, 0, 1\nfrob r1", 2, /unknown mnemonic 'frob'/],
  ["load r0, 0, 1\nsum r1", 2, /sum takes 2 operand\(s\), not 1/],
  ["load x0, 0, 1", 1, /'x0' is not a register/],
  ["load r0, -1, 1", 1, /offset '-1' is not an integer/],
  ["load r0, 0, 0x1_0", 1, /length '0x1_0' is not an integer/],
  ["const r0, 1, two", 1, /'two' is not a number/],
  ["load r0, 0, 2\nact r1, r0, gelu", 2, /'gelu' is not relu, sigmoid or tanh/],
  ["\n\nsum r1, r0", 3, /a r0 is read before it is written/],
  ["load r0, 0, 2\nconst r1, 1, 2, 3\ndot r2, r0, r1", 3, /r0 has length 2, r1 has length 3/],
  [".registers 65\nload r0, 0, 1", 1, /registers 65 is not in 1\.\.64/],
  ["load r0, 0, 1\n\nload r64, 0, 1", 3, /registers 65 is not in 1\.\.64/],
  [".registers 2\nload r2, 0, 1", 2, /dst r2 is not below the 2 registers/],
  [".length 4097", 1, /register length 4097 is not in 1\.\.4096/],
  ["load r0, 0, 4097", 1, /register length 4097/],
  ["load r0, 0, 1\nstore r0, 16384", 2, /past the output buffer of 16384/],
  ["load r0, 0, 1\nemit Bad.Topic", 2, /topic 0: topic segment 'Bad' must match/],
  [".topic a\n.topic a", 2, /topic a twice/],
  [".registers 2\n.registers 3", 2, /\.registers given twice/],
  [".topic t\nemit 1", 2, /topic 1 is not below the 1 topics/],
  ["const r0", 1, /const takes a register and values/],
  [" , ,\n\t;\nsum r0, r1", 3, /a r1 is read before it is written/],
];

/** Patches `bytes` (a copy) at `at` with `values`. */
function patch(bytes: Uint8Array, at: number, ...values: number[]): Uint8Array {
  const out = bytes.slice();
  out.set(values, at);
  return out;
}

const ok = assemble(
  ".registers 2\n.length 3\n.topic v.o\nload r0, 1, 3\nsum r1, r0\nstore r1, 0\nemit v.o\n",
);
/** Offset of the first instruction of `ok` (12-byte header and "v.o"). */
const CODE = 16;
const op = (...bytes: number[]) => {
  const out = new Uint8Array(ok.length + bytes.length);
  out.set(ok);
  out.set(bytes, ok.length);
  return out;
};

/** Bad bytecode and the validator's message. */
export const BAD_BYTES: readonly [string, Uint8Array, RegExp][] = [
  ["magic", patch(ok, 0, 0x48, 0x41, 0x52, 0x4e), /^not a harmonics program \(magic\)$/],
  ["version", patch(ok, 4, 2), /^bytecode version 2 is not 1$/],
  ["too many registers", patch(ok, 5, 65), /^registers 65 is not in 1\.\.64$/],
  ["no registers", patch(ok, 5, 0), /^registers 0 is not in 1\.\.64$/],
  ["register too long", patch(ok, 6, 0x01, 0x10), /^register length 4097 is not in 1\.\.4096$/],
  ["reserved", patch(ok, 10, 1), /^reserved header bytes$/],
  ["too many topics", patch(ok, 8, 17), /^17 topics, more than 16$/],
  ["topic truncated", patch(ok, 12, 200), /^topic 0 is truncated$/],
  ["bad topic", patch(ok, 13, 0x56), /^topic 0: topic segment 'V' must match/],
  ["short", ok.subarray(0, 11), /^program of 11 bytes has no header$/],
  ["truncated header", ok.subarray(0, ok.length - 3), /^instruction 3: truncated header$/],
  ["truncated operands", ok.subarray(0, CODE + 12), /^instruction 0: load: truncated operands$/],
  ["unknown opcode", op(0x7f, 0, 0, 0, 0, 0, 0, 0), /^instruction 4: unknown opcode 0x7f$/],
  ["load count 0", patch(ok, CODE + 12, 0), /^instruction 0: load: length 0 is not in 1\.\.3$/],
  ["load flags", patch(ok, CODE + 1, 4), /^instruction 0: load: bad flags 0x4$/],
  ["act kind", op(0x06, 9, 1, 0, 1, 0, 0, 0), /^instruction 4: act: bad flags 0x9$/],
  ["unused b", patch(ok, CODE + 16 + 6, 1), /^instruction 1: sum: unused field b must be 0$/],
  [
    "src too high",
    patch(ok, CODE + 16 + 4, 5),
    /^instruction 1: sum: a r5 is not below the 2 registers$/,
  ],
  [
    "dst too high",
    patch(ok, CODE + 2, 2),
    /^instruction 0: load: dst r2 is not below the 2 registers$/,
  ],
  [
    "read before write",
    patch(ok, CODE + 16 + 4, 1),
    /^instruction 1: sum: a r1 is read before it is written$/,
  ],
  [
    "dot lengths",
    op(0x02, 0, 0, 0, 0, 0, 1, 0),
    /^instruction 4: dot: r0 has length 3, r1 has length 1$/,
  ],
  [
    "store past",
    op(0x07, 0, 0, 0, 0, 0, 0, 0, 0xff, 0x3f, 0, 0),
    /^instruction 4: store: writes floats \[16383, 16386\) past the output buffer of 16384$/,
  ],
  [
    "emit topic",
    op(0x08, 0, 0, 0, 1, 0, 0, 0),
    /^instruction 4: emit: topic 1 is not below the 1 topics$/,
  ],
  ["emit dst", op(0x08, 0, 1, 0, 0, 0, 0, 0), /^instruction 4: emit: unused field dst must be 0$/],
  [
    "const count",
    op(0x0a, 0, 0, 0, 4, 0, 0, 0, ...new Array(16).fill(0)),
    /^instruction 4: const: count 4 is not in 1\.\.3$/,
  ],
  ["oversized", new Uint8Array(65_537), /^program of 65537 bytes is over the limit of 65536$/],
];
