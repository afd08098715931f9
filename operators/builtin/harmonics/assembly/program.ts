// Decoding and validating a Harmonics program: the port of `../bytecode.ts`, check for
// check and message for message (keep the two in step). A validated program is kept in the
// arrays below, allocated once in `init` (before the SDK's memory mark, so they survive
// every pulse).

export const MAX_REGISTERS: i32 = 64;
export const MAX_REGISTER_LENGTH: i32 = 4096;
export const MAX_TOPICS: i32 = 16;
export const MAX_INSTRUCTIONS: i32 = 4096;
export const MAX_PROGRAM_BYTES: i32 = 65536;
export const MAX_OUTPUT_LENGTH: i32 = 16384;
export const MAX_EMITS: i32 = 64;
export const PROGRAM_HEADER_BYTES: i32 = 12;
export const VERSION: u8 = 1;

export const OP_LOAD: u8 = 0x01;
export const OP_DOT: u8 = 0x02;
export const OP_SUM: u8 = 0x03;
export const OP_SCALE: u8 = 0x04;
export const OP_ADD: u8 = 0x05;
export const OP_ACT: u8 = 0x06;
export const OP_STORE: u8 = 0x07;
export const OP_EMIT: u8 = 0x08;
export const OP_MUL: u8 = 0x09;
export const OP_CONST: u8 = 0x0a;

export const ACT_RELU: u8 = 1;
export const ACT_SIGMOID: u8 = 2;
export const ACT_TANH: u8 = 3;

export function mnemonic(op: u8): string | null {
  switch (op) {
    case OP_LOAD: return "load";
    case OP_DOT: return "dot";
    case OP_SUM: return "sum";
    case OP_SCALE: return "scale";
    case OP_ADD: return "add";
    case OP_ACT: return "act";
    case OP_STORE: return "store";
    case OP_EMIT: return "emit";
    case OP_MUL: return "mul";
    case OP_CONST: return "const";
  }
  return null;
}

/** A validated program, as parallel arrays by instruction. */
export class Program {
  registers: i32 = 0;
  length: i32 = 0;
  topics: string[] = [];
  count: i32 = 0;
  op: StaticArray<u8> = new StaticArray<u8>(0);
  flags: StaticArray<u8> = new StaticArray<u8>(0);
  dst: StaticArray<i32> = new StaticArray<i32>(0);
  a: StaticArray<i32> = new StaticArray<i32>(0);
  b: StaticArray<i32> = new StaticArray<i32>(0);
  /** Length of source a, of source b (0 when unused). */
  la: StaticArray<i32> = new StaticArray<i32>(0);
  lb: StaticArray<i32> = new StaticArray<i32>(0);
  /** LOAD/STORE offset, LOAD count, SCALE factor bits; CONST: index into `consts`. */
  offset: StaticArray<u32> = new StaticArray<u32>(0);
  num: StaticArray<u32> = new StaticArray<u32>(0);
  consts: StaticArray<f32> = new StaticArray<f32>(0);
}

/** Set by `decodeProgram` on failure: the message and the instruction (-1: header). */
export let errorMessage: string = "";
export let errorInstruction: i32 = -1;

function fail(message: string, instruction: i32 = -1): Program | null {
  errorMessage = message;
  errorInstruction = instruction;
  return null;
}

// Raw little-endian reads: every caller has checked `at` against the program's size first.
// (A checked index costs as much fuel as its never-taken throw path: see `decodeProgram`.)
function u16at(bytes: Uint8Array, at: i32): i32 {
  return <i32>load<u16>(bytes.dataStart + <usize>at);
}

function u32at(bytes: Uint8Array, at: i32): u32 {
  return load<u32>(bytes.dataStart + <usize>at);
}

export function operandBytes(op: u8, a: i32): i32 {
  if (op == OP_LOAD) return 8;
  if (op == OP_SCALE || op == OP_STORE) return 4;
  if (op == OP_CONST) return 4 * a;
  return 0;
}

function isSegmentChar(c: i32): bool {
  return (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c == 95 || c == 45;
}

/** The protocol's topic check (`runtime/protocol/topic.ts`), same messages. */
export function topicError(topic: string): string | null {
  if (topic.length == 0) return "topic is empty";
  if (topic.length > 256) return "topic is longer than 256 bytes";
  const segments = topic.split(".");
  if (segments.length > 16) return "topic has more than 16 segments";
  for (let i = 0; i < segments.length; i++) {
    const s = segments[i];
    if (s.length == 0) return "topic has an empty segment";
    for (let j = 0; j < s.length; j++) {
      if (!isSegmentChar(s.charCodeAt(j))) {
        return "topic segment '" + s + "' must match [a-z0-9_-]+";
      }
    }
  }
  return null;
}

/** Checks a topic table; the error, or null. */
export function checkTopics(topics: string[]): string | null {
  if (topics.length > MAX_TOPICS) {
    return topics.length.toString() + " topics, more than " + MAX_TOPICS.toString();
  }
  for (let t = 0; t < topics.length; t++) {
    const err = topicError(topics[t]);
    if (err !== null) return "topic " + t.toString() + ": " + err;
    if (String.UTF8.byteLength(topics[t]) > 255) {
      return "topic " + t.toString() + ": longer than 255 bytes";
    }
  }
  return null;
}

// Fuel is charged for every branch of a loop body on each pass (the metering cannot tell
// which arm runs), so the per-instruction loops stay small: each opcode's checks live in
// their own function, called through a table (an indirect call is never inlined back).

let curName: string = "";
let curIndex: i32 = 0;

function failOp(m: string): i32 {
  fail("instruction " + curIndex.toString() + ": " + curName + ": " + m, curIndex);
  return -1;
}

// The instruction being checked.
let vBytes: Uint8Array = new Uint8Array(0);
let vPos: i32 = 0;
let vDst: i32 = 0;
let vA: i32 = 0;
let vB: i32 = 0;
let vLens: StaticArray<i32> = new StaticArray<i32>(0);
let vRegisters: i32 = 0;
let vLength: i32 = 0;
let vTopicBound: i32 = 0;
let vEmits: i32 = 0;
let vProgram: Program = new Program();
let vConstAt: i32 = 0;
// Outputs of a check besides the result length.
let vOffset: u32 = 0;
let vNum: u32 = 0;
let vLa: i32 = 0;
let vLb: i32 = 0;

function source(r: i32, what: string): i32 {
  if (r >= vRegisters) return failOp(regMsg(what, r, vRegisters));
  const n = unchecked(vLens[r]);
  if (n == 0) return failOp(unwrittenMsg(what, r));
  return n;
}

function unused(v: i32, what: string): bool {
  if (v == 0) return false;
  failOp("unused field " + what + " must be 0");
  return true;
}

function checkNone(): i32 {
  return -1;
}

function checkLoad(): i32 {
  if (unused(vA, "a") || unused(vB, "b")) return -1;
  vOffset = u32at(vBytes, vPos + 8);
  vNum = u32at(vBytes, vPos + 12);
  if (vNum < 1 || vNum > <u32>vLength) {
    return failOp("length " + vNum.toString() + " is not in 1.." + vLength.toString());
  }
  return <i32>vNum;
}

function checkPair(): i32 {
  vLa = source(vA, "a");
  if (vLa < 0) return -1;
  vLb = source(vB, "b");
  return vLb;
}

function checkDot(): i32 {
  if (checkPair() < 0) return -1;
  if (vLa != vLb) return failOp(lengthsMsg(vA, vLa, vB, vLb));
  return 1;
}

function checkElementwise(): i32 {
  if (checkPair() < 0) return -1;
  if (vLa != vLb && vLa != 1 && vLb != 1) return failOp(lengthsMsg(vA, vLa, vB, vLb));
  return max(vLa, vLb);
}

function checkUnary(): i32 {
  vLa = source(vA, "a");
  if (vLa < 0 || unused(vB, "b")) return -1;
  return vLa;
}

function checkSum(): i32 {
  return checkUnary() < 0 ? -1 : 1;
}

function checkScale(): i32 {
  if (checkUnary() < 0) return -1;
  vOffset = u32at(vBytes, vPos + 8);
  return vLa;
}

function checkStore(): i32 {
  if (unused(vDst, "dst")) return -1;
  vLa = source(vA, "a");
  if (vLa < 0 || unused(vB, "b")) return -1;
  vOffset = u32at(vBytes, vPos + 8);
  if (<u64>vOffset + <u64>vLa > <u64>MAX_OUTPUT_LENGTH) {
    return failOp("writes floats [" + vOffset.toString() + ", " +
      (<u64>vOffset + <u64>vLa).toString() + ") past the output buffer of " +
      MAX_OUTPUT_LENGTH.toString());
  }
  return 0;
}

function checkEmit(): i32 {
  if (unused(vDst, "dst") || unused(vB, "b")) return -1;
  if (vA >= vTopicBound) {
    return failOp("topic " + vA.toString() + " is not below the " + vTopicBound.toString() +
      " topics");
  }
  vEmits++;
  if (vEmits > MAX_EMITS) return failOp("more than " + MAX_EMITS.toString() + " emits");
  return 0;
}

function checkConst(): i32 {
  if (unused(vB, "b")) return -1;
  if (vA < 1 || vA > vLength) {
    return failOp("count " + vA.toString() + " is not in 1.." + vLength.toString());
  }
  vOffset = <u32>vConstAt;
  const consts = vProgram.consts;
  for (let k = 0; k < vA; k++) {
    unchecked(consts[vConstAt++] = reinterpret<f32>(u32at(vBytes, vPos + 8 + 4 * k)));
  }
  return vA;
}

const CHECKS: StaticArray<() => i32> = [
  checkNone,
  checkLoad,
  checkDot,
  checkSum,
  checkScale,
  checkElementwise, // add
  checkUnary, // act
  checkStore,
  checkEmit,
  checkElementwise, // mul
  checkConst,
];

function headerFail(kind: i32, i: i32, x: i32): Program | null {
  if (kind == 0) return fail("more than " + MAX_INSTRUCTIONS.toString() + " instructions", i);
  if (kind == 1) return fail("instruction " + i.toString() + ": truncated header", i);
  if (kind == 2) {
    return fail("instruction " + i.toString() + ": unknown opcode 0x" +
      x.toString(16).padStart(2, "0"), i);
  }
  if (kind == 3) {
    failOp("truncated operands");
    return null;
  }
  failOp("bad flags 0x" + x.toString(16));
  return null;
}

/**
 * Decodes and validates `bytes`. `topics` (the config's) replaces the program's table when
 * not null; `lenientTopics` lets a program with no table use indices below MAX_TOPICS (as the
 * reference's `decodeProgram` does without topics). Returns null and sets `errorMessage`.
 */
export function decodeProgram(
  bytes: Uint8Array,
  topics: string[] | null,
  lenientTopics: bool = false,
): Program | null {
  const size = bytes.length;
  if (size > MAX_PROGRAM_BYTES) {
    return fail("program of " + size.toString() + " bytes is over the limit of " +
      MAX_PROGRAM_BYTES.toString());
  }
  if (size < PROGRAM_HEADER_BYTES) {
    return fail("program of " + size.toString() + " bytes has no header");
  }
  if (bytes[0] != 0x48 || bytes[1] != 0x41 || bytes[2] != 0x52 || bytes[3] != 0x4d) {
    return fail("not a harmonics program (magic)");
  }
  if (bytes[4] != VERSION) {
    return fail("bytecode version " + bytes[4].toString() + " is not " + VERSION.toString());
  }
  const registers = <i32>bytes[5];
  const length = u16at(bytes, 6);
  const topicCount = u16at(bytes, 8);
  if (registers < 1 || registers > MAX_REGISTERS) {
    return fail("registers " + registers.toString() + " is not in 1.." + MAX_REGISTERS.toString());
  }
  if (length < 1 || length > MAX_REGISTER_LENGTH) {
    return fail("register length " + length.toString() + " is not in 1.." +
      MAX_REGISTER_LENGTH.toString());
  }
  if (topicCount > MAX_TOPICS) {
    return fail(topicCount.toString() + " topics, more than " + MAX_TOPICS.toString());
  }
  if (u16at(bytes, 10) != 0) return fail("reserved header bytes");
  let pos = PROGRAM_HEADER_BYTES;
  const table: string[] = [];
  for (let t = 0; t < topicCount; t++) {
    if (pos >= size) return fail("topic " + t.toString() + " is truncated");
    const n = <i32>bytes[pos];
    if (n == 0 || pos + 1 + n > size) return fail("topic " + t.toString() + " is truncated");
    for (let k = 1; k <= n; k++) {
      if (bytes[pos + k] >= 0x80) return fail("topic " + t.toString() + " is not ASCII");
    }
    table.push(String.UTF8.decodeUnsafe(bytes.dataStart + <usize>(pos + 1), <usize>n));
    pos += 1 + n;
  }
  const effective = topics !== null ? topics : table;
  const topicErr = checkTopics(effective);
  if (topicErr !== null) return fail(topicErr);

  // First pass: count instructions and constants so the arrays are sized once.
  let count = 0;
  let constCount = 0;
  let scan = pos;
  while (scan + 8 <= size && count <= MAX_INSTRUCTIONS) {
    const op = load<u8>(bytes.dataStart + <usize>scan);
    const a = u16at(bytes, scan + 4);
    if (op == OP_CONST) constCount += a;
    scan += 8 + operandBytes(op, a);
    count++;
  }
  const p = new Program();
  p.registers = registers;
  p.length = length;
  p.topics = effective;
  p.op = new StaticArray<u8>(count);
  p.flags = new StaticArray<u8>(count);
  p.dst = new StaticArray<i32>(count);
  p.a = new StaticArray<i32>(count);
  p.b = new StaticArray<i32>(count);
  p.la = new StaticArray<i32>(count);
  p.lb = new StaticArray<i32>(count);
  p.offset = new StaticArray<u32>(count);
  p.num = new StaticArray<u32>(count);
  p.consts = new StaticArray<f32>(min(constCount, MAX_PROGRAM_BYTES / 4));
  vBytes = bytes;
  vLens = new StaticArray<i32>(registers);
  vRegisters = registers;
  vLength = length;
  // The assembler alone, on a program with no table of its own: the config names its topics.
  vTopicBound = lenientTopics && topics === null && table.length == 0
    ? MAX_TOPICS
    : effective.length;
  vEmits = 0;
  vProgram = p;
  vConstAt = 0;
  let i = 0;
  while (pos < size) {
    curIndex = i;
    curName = "";
    if (i >= MAX_INSTRUCTIONS) return headerFail(0, i, 0);
    if (pos + 8 > size) return headerFail(1, i, 0);
    const op = load<u8>(bytes.dataStart + <usize>pos);
    const flags = load<u8>(bytes.dataStart + <usize>pos + 1);
    if (op < OP_LOAD || op > OP_CONST) return headerFail(2, i, <i32>op);
    curName = mnemonic(op)!;
    vPos = pos;
    vDst = u16at(bytes, pos + 2);
    vA = u16at(bytes, pos + 4);
    vB = u16at(bytes, pos + 6);
    const need = operandBytes(op, vA);
    if (pos + 8 + need > size) return headerFail(3, i, 0);
    const badFlags = op == OP_ACT ? (flags < ACT_RELU || flags > ACT_TANH) : flags != 0;
    if (badFlags) return headerFail(4, i, <i32>flags);
    vOffset = 0;
    vNum = 0;
    vLa = 0;
    vLb = 0;
    const result = unchecked(CHECKS[<i32>op])();
    if (result < 0) return null;
    if (result > 0) {
      if (vDst >= registers) {
        failOp(regMsg("dst", vDst, registers));
        return null;
      }
      unchecked(vLens[vDst] = result);
    }
    // i < count: the arrays were sized by the first pass.
    unchecked(p.op[i] = op);
    unchecked(p.flags[i] = flags);
    unchecked(p.dst[i] = vDst);
    unchecked(p.a[i] = vA);
    unchecked(p.b[i] = vB);
    unchecked(p.la[i] = vLa);
    unchecked(p.lb[i] = vLb);
    unchecked(p.offset[i] = vOffset);
    unchecked(p.num[i] = vNum);
    pos += 8 + need;
    i++;
  }
  p.count = i;
  return p;
}

function regMsg(what: string, r: i32, registers: i32): string {
  return what + " r" + r.toString() + " is not below the " + registers.toString() + " registers";
}

function unwrittenMsg(what: string, r: i32): string {
  return what + " r" + r.toString() + " is read before it is written";
}

function lengthsMsg(a: i32, la: i32, b: i32, lb: i32): string {
  return "r" + a.toString() + " has length " + la.toString() + ", r" + b.toString() +
    " has length " + lb.toString();
}
