/**
 * The Harmonics bytecode: its layout, its limits and its validator. A program is a 12-byte
 * header, a topic table, then straight-line instructions (an 8-byte header plus operands
 * each). Every vector length is known before the first pulse (LOAD and CONST fix them; no
 * branches), so the validator checks every register, length and output bound at load time;
 * only a LOAD past the end of a pulse's payload is left to run time. The AssemblyScript
 * interpreter (`assembly/program.ts`) ports this file line for line, with the same messages.
 * @module
 */
import { BusError, topicError } from "../../../runtime/protocol/mod.ts";

/** The four magic bytes that open a program: `HARM`. */
export const MAGIC = [0x48, 0x41, 0x52, 0x4d] as const;
/** The bytecode version this interpreter reads. */
export const VERSION = 1;
/** Size of the program header, bytes. */
export const PROGRAM_HEADER_BYTES = 12;
/** Size of an instruction header, bytes. */
export const OP_HEADER_BYTES = 8;

/** Bounds every program is validated against. */
export interface HarmonicsLimits {
  /** Most vector registers a program may declare. */
  readonly registers: number;
  /** Most float32s a register holds. */
  readonly registerLength: number;
  /** Most topics in a program's table (or in the config's `topics`). */
  readonly topics: number;
  /** Most instructions. */
  readonly instructions: number;
  /** Most bytes of a program. */
  readonly programBytes: number;
  /** Most float32s of the output buffer. */
  readonly outputLength: number;
  /** Most EMITs a program runs per pulse. */
  readonly emits: number;
}

/** The limits of bytecode version 1 (the AssemblyScript operator holds the same). */
export const LIMITS: HarmonicsLimits = Object.freeze({
  /** Most vector registers a program may declare. */
  registers: 64,
  /** Most float32s a register holds. */
  registerLength: 4096,
  /** Most topics in a program's table (or in the config's `topics`). */
  topics: 16,
  /** Most instructions. */
  instructions: 4096,
  /** Most bytes of a program. */
  programBytes: 65_536,
  /** Most float32s of the output buffer (64 KiB). */
  outputLength: 16_384,
  /** Most EMITs a program runs per pulse (the manifest's `max_outputs` defaults to 64 too). */
  emits: 64,
});

/** Opcodes. */
export const Op: Readonly<{
  LOAD: 0x01;
  DOT: 0x02;
  SUM: 0x03;
  SCALE: 0x04;
  ADD: 0x05;
  ACT: 0x06;
  STORE: 0x07;
  EMIT: 0x08;
  MUL: 0x09;
  CONST: 0x0a;
}> = Object.freeze({
  LOAD: 0x01,
  DOT: 0x02,
  SUM: 0x03,
  SCALE: 0x04,
  ADD: 0x05,
  ACT: 0x06,
  STORE: 0x07,
  EMIT: 0x08,
  MUL: 0x09,
  CONST: 0x0a,
});

/** Activation kinds, in the flags byte of ACT. */
export const Act: Readonly<{ RELU: 1; SIGMOID: 2; TANH: 3 }> = Object.freeze({
  RELU: 1,
  SIGMOID: 2,
  TANH: 3,
});

/** Mnemonics by opcode. */
export const MNEMONIC: Readonly<Record<number, string>> = Object.freeze({
  [Op.LOAD]: "load",
  [Op.DOT]: "dot",
  [Op.SUM]: "sum",
  [Op.SCALE]: "scale",
  [Op.ADD]: "add",
  [Op.ACT]: "act",
  [Op.STORE]: "store",
  [Op.EMIT]: "emit",
  [Op.MUL]: "mul",
  [Op.CONST]: "const",
});

/** Activation names by kind. */
export const ACT_NAME: Readonly<Record<number, string>> = Object.freeze({
  [Act.RELU]: "relu",
  [Act.SIGMOID]: "sigmoid",
  [Act.TANH]: "tanh",
});

/** One decoded, validated instruction. */
export interface Instr {
  /** Opcode. */
  readonly op: number;
  /** Flags byte (the activation kind of ACT, else 0). */
  readonly flags: number;
  /** Destination register (LOAD, DOT, SUM, SCALE, ADD, ACT, MUL, CONST). */
  readonly dst: number;
  /** Source register a, or the topic index of EMIT, or the float count of CONST. */
  readonly a: number;
  /** Source register b (DOT, ADD, MUL). */
  readonly b: number;
  /** LOAD: float offset into the payload; STORE: float offset into the output buffer. */
  readonly offset: number;
  /** LOAD: float count. */
  readonly count: number;
  /** SCALE: the factor's bits; unused otherwise. */
  readonly imm: number;
  /** CONST: the values' bits. */
  readonly consts: Uint32Array;
  /** Byte offset of the instruction in the program. */
  readonly at: number;
}

/** A validated program. */
export interface Program {
  /** Declared register count. */
  readonly registers: number;
  /** Declared register length (float32s). */
  readonly length: number;
  /** The topic table of the bytecode. */
  readonly topics: readonly string[];
  /** Its instructions, in order. */
  readonly code: readonly Instr[];
}

/** A program refused at load time; `instruction` is its index (-1 for the header). */
export class HarmonicsProgramError extends BusError {
  /** Index of the faulty instruction, -1 for the header or topic table. */
  readonly instruction: number;
  /** An error naming what is wrong. */
  constructor(message: string, instruction = -1) {
    super("INVALID_ARGUMENT", message);
    this.name = "HarmonicsProgramError";
    this.instruction = instruction;
  }
}

/** Operand bytes after the 8-byte header, by opcode (CONST: 4 per value). */
export function operandBytes(op: number, a: number): number {
  switch (op) {
    case Op.LOAD:
      return 8;
    case Op.SCALE:
    case Op.STORE:
      return 4;
    case Op.CONST:
      return 4 * a;
    default:
      return 0;
  }
}

/**
 * Decodes and validates a program: header, topic table, every instruction's fields, register
 * indices and the lengths they carry, output bounds and EMIT count. `topics` (the config's)
 * replaces the program's table for EMIT's topic indices (without it, a program with no table
 * may use indices below `LIMITS.topics`: the config names them at install). Throws
 * {@linkcode HarmonicsProgramError}.
 */
export function decodeProgram(bytes: Uint8Array, topics?: readonly string[]): Program {
  if (bytes.length > LIMITS.programBytes) {
    throw new HarmonicsProgramError(
      `program of ${bytes.length} bytes is over the limit of ${LIMITS.programBytes}`,
    );
  }
  if (bytes.length < PROGRAM_HEADER_BYTES) {
    throw new HarmonicsProgramError(`program of ${bytes.length} bytes has no header`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < 4; i++) {
    if (bytes[i] !== MAGIC[i]) throw new HarmonicsProgramError("not a harmonics program (magic)");
  }
  if (bytes[4] !== VERSION) {
    throw new HarmonicsProgramError(`bytecode version ${bytes[4]} is not ${VERSION}`);
  }
  const registers = bytes[5];
  const length = view.getUint16(6, true);
  const topicCount = view.getUint16(8, true);
  if (registers < 1 || registers > LIMITS.registers) {
    throw new HarmonicsProgramError(`registers ${registers} is not in 1..${LIMITS.registers}`);
  }
  if (length < 1 || length > LIMITS.registerLength) {
    throw new HarmonicsProgramError(
      `register length ${length} is not in 1..${LIMITS.registerLength}`,
    );
  }
  if (topicCount > LIMITS.topics) {
    throw new HarmonicsProgramError(`${topicCount} topics, more than ${LIMITS.topics}`);
  }
  if (view.getUint16(10, true) !== 0) throw new HarmonicsProgramError("reserved header bytes");
  let pos = PROGRAM_HEADER_BYTES;
  const table: string[] = [];
  for (let t = 0; t < topicCount; t++) {
    if (pos >= bytes.length) throw new HarmonicsProgramError(`topic ${t} is truncated`);
    const n = bytes[pos];
    if (n === 0 || pos + 1 + n > bytes.length) {
      throw new HarmonicsProgramError(`topic ${t} is truncated`);
    }
    const raw = bytes.subarray(pos + 1, pos + 1 + n);
    // Topics are ASCII ([a-z0-9_-] and dots): refusing other bytes here keeps both
    // interpreters' messages the same whatever a UTF-8 decoder would make of them.
    if (raw.some((b) => b >= 0x80)) throw new HarmonicsProgramError(`topic ${t} is not ASCII`);
    const topic = String.fromCharCode(...raw);
    table.push(topic);
    pos += 1 + n;
  }
  const effective = topics ?? table;
  checkTopics(effective);
  // Bytecode alone (the assembler, the disassembler) with no table of its own: its topics
  // come from the config at install, where they are checked.
  const topicBound = topics === undefined && table.length === 0 ? LIMITS.topics : effective.length;
  const code: Instr[] = [];
  const lens = new Int32Array(registers); // 0: never written
  let outHigh = 0;
  let emits = 0;
  while (pos < bytes.length) {
    const i = code.length;
    if (i >= LIMITS.instructions) {
      throw new HarmonicsProgramError(`more than ${LIMITS.instructions} instructions`, i);
    }
    const fail = (m: string) => new HarmonicsProgramError(`instruction ${i}: ${m}`, i);
    if (pos + OP_HEADER_BYTES > bytes.length) throw fail("truncated header");
    const op = bytes[pos];
    const flags = bytes[pos + 1];
    const dst = view.getUint16(pos + 2, true);
    const a = view.getUint16(pos + 4, true);
    const b = view.getUint16(pos + 6, true);
    const name = MNEMONIC[op];
    if (name === undefined) throw fail(`unknown opcode 0x${op.toString(16).padStart(2, "0")}`);
    const need = operandBytes(op, a);
    if (pos + OP_HEADER_BYTES + need > bytes.length) throw fail(`${name}: truncated operands`);
    const w = (k: number) => view.getUint32(pos + OP_HEADER_BYTES + 4 * k, true);
    const failOp = (m: string) => fail(`${name}: ${m}`);
    if (op === Op.ACT ? ACT_NAME[flags] === undefined : flags !== 0) {
      throw failOp(`bad flags 0x${flags.toString(16)}`);
    }
    const reg = (r: number, what: string) => {
      if (r >= registers) throw failOp(`${what} r${r} is not below the ${registers} registers`);
    };
    const src = (r: number, what: string) => {
      reg(r, what);
      if (lens[r] === 0) throw failOp(`${what} r${r} is read before it is written`);
      return lens[r];
    };
    const zero = (v: number, what: string) => {
      if (v !== 0) throw failOp(`unused field ${what} must be 0`);
    };
    let offset = 0;
    let count = 0;
    let imm = 0;
    let consts = new Uint32Array(0);
    let result = 0; // length written to dst; 0 when the op writes no register
    switch (op) {
      case Op.LOAD:
        zero(a, "a");
        zero(b, "b");
        offset = w(0);
        count = w(1);
        if (count < 1 || count > length) {
          throw failOp(`length ${count} is not in 1..${length}`);
        }
        result = count;
        break;
      case Op.DOT: {
        const la = src(a, "a");
        const lb = src(b, "b");
        if (la !== lb) throw failOp(`r${a} has length ${la}, r${b} has length ${lb}`);
        result = 1;
        break;
      }
      case Op.SUM:
        src(a, "a");
        zero(b, "b");
        result = 1;
        break;
      case Op.SCALE:
        result = src(a, "a");
        zero(b, "b");
        imm = w(0);
        break;
      case Op.ADD:
      case Op.MUL: {
        const la = src(a, "a");
        const lb = src(b, "b");
        if (la !== lb && la !== 1 && lb !== 1) {
          throw failOp(`r${a} has length ${la}, r${b} has length ${lb}`);
        }
        result = Math.max(la, lb);
        break;
      }
      case Op.ACT:
        result = src(a, "a");
        zero(b, "b");
        break;
      case Op.STORE: {
        zero(dst, "dst");
        const la = src(a, "a");
        zero(b, "b");
        offset = w(0);
        if (offset + la > LIMITS.outputLength) {
          throw failOp(
            `writes floats [${offset}, ${
              offset + la
            }) past the output buffer of ${LIMITS.outputLength}`,
          );
        }
        outHigh = Math.max(outHigh, offset + la);
        break;
      }
      case Op.EMIT:
        zero(dst, "dst");
        zero(b, "b");
        if (a >= topicBound) throw failOp(`topic ${a} is not below the ${topicBound} topics`);
        if (++emits > LIMITS.emits) throw failOp(`more than ${LIMITS.emits} emits`);
        outHigh = 0;
        break;
      case Op.CONST:
        zero(b, "b");
        if (a < 1 || a > length) throw failOp(`count ${a} is not in 1..${length}`);
        consts = new Uint32Array(a);
        for (let k = 0; k < a; k++) consts[k] = w(k);
        result = a;
        break;
    }
    if (result > 0) {
      reg(dst, "dst");
      lens[dst] = result;
    }
    code.push({ op, flags, dst, a, b, offset, count, imm, consts, at: pos });
    pos += OP_HEADER_BYTES + need;
  }
  return { registers, length, topics: table, code };
}

/** Checks a topic table: at most `LIMITS.topics` topics, each a valid topic of 1..255 bytes. */
export function checkTopics(topics: readonly string[]): void {
  if (topics.length > LIMITS.topics) {
    throw new HarmonicsProgramError(`${topics.length} topics, more than ${LIMITS.topics}`);
  }
  for (let t = 0; t < topics.length; t++) {
    const err = topicError(topics[t]);
    if (err !== null) throw new HarmonicsProgramError(`topic ${t}: ${err}`);
    if (new TextEncoder().encode(topics[t]).length > 255) {
      throw new HarmonicsProgramError(`topic ${t}: longer than 255 bytes`);
    }
  }
}
