/**
 * The Harmonics assembler (text to bytecode) and disassembler (bytecode to text). Text:
 * one instruction or directive a line, `;` starts a comment, operands separated by commas
 * or spaces, mnemonics case-insensitive:
 *
 * ```
 * .registers 4          ; register count (default: highest register used + 1)
 * .length 3             ; register length (default: longest LOAD or CONST)
 * .topic vec.out        ; topic #0 (EMIT may also name a topic not declared yet)
 * load r0, 0, 3         ; r0 <- payload float32s [0, 3)
 * const r1, 0.5, -1, 2
 * dot r2, r0, r1
 * act r2, r2, tanh
 * store r2, 0
 * emit vec.out
 * ```
 *
 * The AssemblyScript operator reads the same text (`assembly/asm.ts`) into the same bytes.
 * @module
 */
import { BusError } from "../../../runtime/protocol/mod.ts";
import {
  Act,
  ACT_NAME,
  decodeProgram,
  HarmonicsProgramError,
  LIMITS,
  MAGIC,
  MNEMONIC,
  Op,
  PROGRAM_HEADER_BYTES,
  VERSION,
} from "./bytecode.ts";
import { fromBits, parseF32, toBits } from "./f32math.ts";

/** Text the assembler refused, with the 1-based line it is on. */
export class HarmonicsAsmError extends BusError {
  /** 1-based line number. */
  readonly line: number;
  /** An error reading `line N: message`. */
  constructor(line: number, message: string) {
    super("INVALID_ARGUMENT", `line ${line}: ${message}`);
    this.name = "HarmonicsAsmError";
    this.line = line;
  }
}

// Maps, not objects: a mnemonic such as `constructor` must not find Object's prototype.
const OPCODES: ReadonlyMap<string, number> = new Map(
  Object.entries(MNEMONIC).map(([code, name]) => [name, Number(code)]),
);
const ACTS: ReadonlyMap<string, number> = new Map([
  ["relu", Act.RELU],
  ["sigmoid", Act.SIGMOID],
  ["tanh", Act.TANH],
]);
/** Operand counts by mnemonic (CONST: a register and at least one value). */
const ARITY: ReadonlyMap<string, number> = new Map([
  ["load", 3],
  ["dot", 3],
  ["sum", 2],
  ["scale", 3],
  ["add", 3],
  ["mul", 3],
  ["act", 3],
  ["store", 2],
  ["emit", 1],
]);

interface Parsed {
  op: number;
  flags: number;
  dst: number;
  a: number;
  b: number;
  words: number[];
  line: number;
}

function integer(tok: string, max: number, what: string, line: number): number {
  const v = /^(0x[0-9a-f]+|[0-9]+)$/i.test(tok) ? Number(tok) : NaN;
  if (!(v >= 0 && v <= max)) {
    throw new HarmonicsAsmError(line, `${what} '${tok}' is not an integer in 0..${max}`);
  }
  return v;
}

function register(tok: string, line: number): number {
  if (!/^r[0-9]+$/i.test(tok)) throw new HarmonicsAsmError(line, `'${tok}' is not a register`);
  return integer(tok.slice(1), 65535, "register", line);
}

function float(tok: string, line: number): number {
  const m = /^f32:0x([0-9a-f]{8})$/i.exec(tok);
  if (m) return parseInt(m[1], 16);
  const v = parseF32(tok.toLowerCase());
  if (v === null) throw new HarmonicsAsmError(line, `'${tok}' is not a number`);
  return toBits(v);
}

/**
 * Assembles text into bytecode and validates it; errors carry the line they are on.
 *
 * @example
 * ```ts ignore
 * const bytes = assemble("load r0, 0, 4\nsum r1, r0\nstore r1, 0\nemit vec.sum");
 * ```
 */
export function assemble(text: string): Uint8Array {
  let registers = -1;
  let length = -1;
  let registersLine = 1;
  let lengthLine = 1;
  const topics: string[] = [];
  const topicLines: number[] = [];
  const code: Parsed[] = [];
  let highReg = 0;
  let highRegLine = 1;
  let longest = 1;
  let longestLine = 1;
  const lines = text.split("\n");
  for (let n = 0; n < lines.length; n++) {
    const line = n + 1;
    const semi = lines[n].indexOf(";");
    const body = semi >= 0 ? lines[n].slice(0, semi) : lines[n];
    const toks = body.split(/[\s,]+/).filter((t) => t !== "");
    if (toks.length === 0) continue; // blank, a comment, or separators only
    const head = toks[0].toLowerCase();
    const args = toks.slice(1);
    const want = (k: number) => {
      if (args.length !== k) {
        throw new HarmonicsAsmError(line, `${head} takes ${k} operand(s), not ${args.length}`);
      }
    };
    if (head === ".registers" || head === ".length") {
      want(1);
      const max = head === ".registers" ? 255 : 65535;
      const v = integer(args[0], max, head.slice(1), line);
      if ((head === ".registers" ? registers : length) >= 0) {
        throw new HarmonicsAsmError(line, `${head} given twice`);
      }
      if (head === ".registers") [registers, registersLine] = [v, line];
      else [length, lengthLine] = [v, line];
      continue;
    }
    if (head === ".topic") {
      want(1);
      if (topics.includes(args[0])) throw new HarmonicsAsmError(line, `topic ${args[0]} twice`);
      topics.push(args[0]);
      topicLines.push(line);
      continue;
    }
    const op = OPCODES.get(head);
    if (op === undefined) throw new HarmonicsAsmError(line, `unknown mnemonic '${toks[0]}'`);
    const p: Parsed = { op, flags: 0, dst: 0, a: 0, b: 0, words: [], line };
    const reg = (tok: string) => {
      const r = register(tok, line);
      if (r > highReg) [highReg, highRegLine] = [r, line];
      return r;
    };
    const long = (n: number) => {
      if (n > longest) [longest, longestLine] = [n, line];
    };
    if (op === Op.CONST) {
      if (args.length < 2) throw new HarmonicsAsmError(line, "const takes a register and values");
      p.dst = reg(args[0]);
      p.a = args.length - 1;
      if (p.a > 65535) throw new HarmonicsAsmError(line, "const has too many values");
      p.words = args.slice(1).map((t) => float(t, line));
      long(p.a);
    } else {
      want(ARITY.get(head)!);
      switch (op) {
        case Op.LOAD:
          p.dst = reg(args[0]);
          p.words = [
            integer(args[1], 0xffffffff, "offset", line),
            integer(args[2], 0xffffffff, "length", line),
          ];
          long(Math.min(p.words[1], 65535));
          break;
        case Op.SUM:
          p.dst = reg(args[0]);
          p.a = reg(args[1]);
          break;
        case Op.SCALE:
          p.dst = reg(args[0]);
          p.a = reg(args[1]);
          p.words = [float(args[2], line)];
          break;
        case Op.ACT: {
          p.dst = reg(args[0]);
          p.a = reg(args[1]);
          const kind = ACTS.get(args[2].toLowerCase());
          if (kind === undefined) {
            throw new HarmonicsAsmError(line, `'${args[2]}' is not relu, sigmoid or tanh`);
          }
          p.flags = kind;
          break;
        }
        case Op.STORE:
          p.a = reg(args[0]);
          p.words = [integer(args[1], 0xffffffff, "offset", line)];
          break;
        case Op.EMIT: {
          const t = args[0];
          if (/^[0-9]+$/.test(t)) p.a = integer(t, 65535, "topic index", line);
          else {
            let at = topics.indexOf(t);
            if (at < 0) {
              at = topics.push(t) - 1;
              topicLines.push(line);
            }
            p.a = at;
          }
          break;
        }
        default: // dot, add, mul
          p.dst = reg(args[0]);
          p.a = reg(args[1]);
          p.b = reg(args[2]);
      }
    }
    code.push(p);
  }
  // Defaults: what the code uses, blamed on the line that needs the most.
  if (registers < 0) [registers, registersLine] = [Math.min(highReg + 1, 255), highRegLine];
  if (length < 0) [length, lengthLine] = [longest, longestLine];
  const bytes = encode(registers, length, topics, topicLines, code);
  try {
    decodeProgram(bytes);
  } catch (e) {
    if (!(e instanceof HarmonicsProgramError)) throw e;
    let at = 1;
    const m = e.message;
    const topic = /^topic ([0-9]+)/.exec(m);
    if (e.instruction >= 0) at = code[e.instruction].line;
    else if (m.startsWith("registers ")) at = registersLine;
    else if (m.startsWith("register length ")) at = lengthLine;
    else if (topic) at = topicLines[Number(topic[1])];
    else if (/^[0-9]+ topics/.test(m)) at = topicLines[LIMITS.topics];
    throw new HarmonicsAsmError(at, m);
  }
  return bytes;
}

function encode(
  registers: number,
  length: number,
  topics: string[],
  topicLines: number[],
  code: Parsed[],
): Uint8Array {
  const enc = new TextEncoder();
  const names = topics.map((t) => enc.encode(t));
  let size = PROGRAM_HEADER_BYTES;
  for (let t = 0; t < names.length; t++) {
    if (names[t].length > 255) {
      throw new HarmonicsAsmError(topicLines[t], `topic ${t}: longer than 255 bytes`);
    }
    size += 1 + names[t].length;
  }
  for (const p of code) size += 8 + 4 * p.words.length;
  if (size > LIMITS.programBytes) {
    throw new HarmonicsAsmError(
      code.at(-1)?.line ?? 1,
      `program of ${size} bytes is over the limit of ${LIMITS.programBytes}`,
    );
  }
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  out.set(MAGIC, 0);
  out[4] = VERSION;
  out[5] = registers;
  view.setUint16(6, length, true);
  view.setUint16(8, topics.length, true);
  let pos = PROGRAM_HEADER_BYTES;
  for (const name of names) {
    out[pos] = name.length;
    out.set(name, pos + 1);
    pos += 1 + name.length;
  }
  for (const p of code) {
    out[pos] = p.op;
    out[pos + 1] = p.flags;
    view.setUint16(pos + 2, p.dst, true);
    view.setUint16(pos + 4, p.a, true);
    view.setUint16(pos + 6, p.b, true);
    for (let k = 0; k < p.words.length; k++) view.setUint32(pos + 8 + 4 * k, p.words[k], true);
    pos += 8 + 4 * p.words.length;
  }
  return out;
}

/** The shortest text for a float32's bits that assembles back to the same bits. */
export function formatF32(bits: number): string {
  const v = fromBits(bits);
  if (v === v) {
    if (Object.is(v, -0)) return "-0";
    for (let p = 1; p <= 9; p++) {
      const s = Number.isFinite(v) ? String(Number(v.toPrecision(p))) : v > 0 ? "inf" : "-inf";
      const back = parseF32(s.toLowerCase());
      if (back !== null && toBits(back) === bits) return s.toLowerCase();
    }
  } else if (bits === 0x7fc00000) return "nan";
  return `f32:0x${bits.toString(16).padStart(8, "0")}`;
}

/**
 * Disassembles valid bytecode into text that assembles back to the same bytes. Throws
 * {@linkcode HarmonicsProgramError} for bytecode that does not validate.
 */
export function disassemble(bytes: Uint8Array): string {
  const program = decodeProgram(bytes);
  const out = [`.registers ${program.registers}`, `.length ${program.length}`];
  for (const t of program.topics) out.push(`.topic ${t}`);
  for (const ins of program.code) {
    const name = MNEMONIC[ins.op];
    const r = (x: number) => `r${x}`;
    switch (ins.op) {
      case Op.LOAD:
        out.push(`${name} ${r(ins.dst)}, ${ins.offset}, ${ins.count}`);
        break;
      case Op.SUM:
        out.push(`${name} ${r(ins.dst)}, ${r(ins.a)}`);
        break;
      case Op.SCALE:
        out.push(`${name} ${r(ins.dst)}, ${r(ins.a)}, ${formatF32(ins.imm)}`);
        break;
      case Op.ACT:
        out.push(`${name} ${r(ins.dst)}, ${r(ins.a)}, ${ACT_NAME[ins.flags]}`);
        break;
      case Op.STORE:
        out.push(`${name} ${r(ins.a)}, ${ins.offset}`);
        break;
      case Op.EMIT: {
        const t = program.topics[ins.a];
        out.push(`${name} ${t === undefined || /^[0-9]+$/.test(t) ? ins.a : t}`);
        break;
      }
      case Op.CONST:
        out.push(`${name} ${r(ins.dst)}, ${Array.from(ins.consts, formatF32).join(", ")}`);
        break;
      default:
        out.push(`${name} ${r(ins.dst)}, ${r(ins.a)}, ${r(ins.b)}`);
    }
  }
  return out.join("\n") + "\n";
}
