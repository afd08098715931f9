/**
 * The TypeScript reference interpreter of the Harmonics bytecode: the same float32 results,
 * bit for bit, as the AssemblyScript operator (`Math.fround` after every operation, sums
 * left to right from +0, activations from `f32math.ts`, NaNs written to the output as
 * 0x7fc00000). Tests run random programs through both and compare the bytes.
 * @module
 */
import { BusError } from "../../../runtime/protocol/mod.ts";
import { Act, type Instr, LIMITS, Op, type Program } from "./bytecode.ts";
import { fromBits, reluF32, sigmoidF32, tanhF32 } from "./f32math.ts";

const f = Math.fround;

/** One pulse a program emits. */
export interface Emitted {
  /** Topic (from the program's table, or the config's `topics`). */
  readonly topic: string;
  /** The output buffer's float32s, little-endian. */
  readonly payload: Uint8Array;
}

/** A pulse the program cannot run on (a LOAD past the payload, a ragged payload). */
export class HarmonicsRunError extends BusError {
  /** An error naming the instruction and the bound. */
  constructor(message: string) {
    super("INVALID_ARGUMENT", message);
    this.name = "HarmonicsRunError";
  }
}

function elementwise(
  x: Float32Array,
  y: Float32Array,
  op: (p: number, q: number) => number,
): Float32Array {
  const n = Math.max(x.length, y.length);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = op(x[x.length === 1 ? 0 : i], y[y.length === 1 ? 0 : i]);
  return out;
}

function activate(kind: number, x: number): number {
  if (kind === Act.RELU) return reluF32(x);
  if (kind === Act.SIGMOID) return sigmoidF32(x);
  return tanhF32(x);
}

function step(ins: Instr, regs: Float32Array[]): Float32Array {
  const a = regs[ins.a];
  switch (ins.op) {
    case Op.DOT: {
      const b = regs[ins.b];
      let acc = 0;
      for (let i = 0; i < a.length; i++) acc = f(acc + f(a[i] * b[i]));
      return Float32Array.of(acc);
    }
    case Op.SUM: {
      let acc = 0;
      for (let i = 0; i < a.length; i++) acc = f(acc + a[i]);
      return Float32Array.of(acc);
    }
    case Op.SCALE: {
      const k = fromBits(ins.imm);
      return a.map((v) => f(v * k));
    }
    case Op.ADD:
      return elementwise(a, regs[ins.b], (p, q) => f(p + q));
    case Op.MUL:
      return elementwise(a, regs[ins.b], (p, q) => f(p * q));
    case Op.ACT:
      return a.map((v) => activate(ins.flags, v));
    default: // CONST
      return new Float32Array(new Uint32Array(ins.consts).buffer);
  }
}

/**
 * Runs a validated program on one payload; returns what it emits, in order. `topics` (the
 * config's) replaces the program's table. Throws {@linkcode HarmonicsRunError}.
 *
 * @example
 * ```ts ignore
 * const program = decodeProgram(assemble("load r0, 0, 2\nsum r1, r0\nstore r1, 0\nemit out.sum"));
 * run(program, new Uint8Array(new Float32Array([1, 2]).buffer)); // [{topic: "out.sum", payload: 3 as f32}]
 * ```
 */
export function run(
  program: Program,
  payload: Uint8Array,
  topics: readonly string[] = program.topics,
): Emitted[] {
  if (payload.length % 4 !== 0) {
    throw new HarmonicsRunError(
      `payload of ${payload.length} bytes is not a whole number of float32s`,
    );
  }
  const floats = payload.length / 4;
  const input = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  const regs: Float32Array[] = new Array(program.registers);
  const out = new Float32Array(LIMITS.outputLength);
  const outBits = new Uint32Array(out.buffer);
  let outLen = 0;
  const emitted: Emitted[] = [];
  for (let i = 0; i < program.code.length; i++) {
    const ins = program.code[i];
    switch (ins.op) {
      case Op.LOAD: {
        if (ins.offset + ins.count > floats) {
          throw new HarmonicsRunError(
            `instruction ${i}: load: reads floats [${ins.offset}, ${
              ins.offset + ins.count
            }) of a payload of ${floats}`,
          );
        }
        const v = new Float32Array(ins.count);
        for (let k = 0; k < ins.count; k++) {
          v[k] = input.getFloat32(4 * (ins.offset + k), true);
        }
        regs[ins.dst] = v;
        break;
      }
      case Op.STORE: {
        const a = regs[ins.a];
        for (let k = 0; k < a.length; k++) {
          const v = a[k];
          // NaN bits differ between engines (sign, payload): one canonical NaN goes out.
          if (v !== v) outBits[ins.offset + k] = 0x7fc00000;
          else out[ins.offset + k] = v;
        }
        outLen = Math.max(outLen, ins.offset + a.length);
        break;
      }
      case Op.EMIT: {
        const bytes = new Uint8Array(out.buffer, 0, outLen * 4).slice();
        emitted.push({ topic: topics[ins.a], payload: bytes });
        out.fill(0, 0, outLen);
        outLen = 0;
        break;
      }
      default:
        regs[ins.dst] = step(ins, regs);
    }
  }
  return emitted;
}
