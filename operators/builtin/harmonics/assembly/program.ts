// Decoding and validating a Harmonics program: the port of `../bytecode.ts`, check for
// check and message for message (keep the two in step). A validated program is kept in the
// arrays below, allocated once in `init` (before the SDK's memory mark, so they survive
// every pulse).

export const MAX_REGISTERS: i32 = 64;
export const MAX_REGISTER_LENGTH: i32 = 4096;
export const MAX_TOPICS: i32 = 16;
export const MAX_INSTRUCTIONS: i32 = 4096;
export const MAX_PROGRAM_BYTES: i32 = 262144;
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

function u16at(bytes: Uint8Array, at: i32): i32 {
  return <i32>bytes[at] | (<i32>bytes[at + 1] << 8);
}

function u32at(bytes: Uint8Array, at: i32): u32 {
  return <u32>bytes[at] | (<u32>bytes[at + 1] << 8) | (<u32>bytes[at + 2] << 16) |
    (<u32>bytes[at + 3] << 24);
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

let curName: string = "";
let curIndex: i32 = 0;

function failOp(m: string): Program | null {
  return fail("instruction " + curIndex.toString() + ": " + curName + ": " + m, curIndex);
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
    table.push(String.UTF8.decodeUnsafe(bytes.dataStart + <usize>(pos + 1), <usize>n));
    pos += 1 + n;
  }
  const effective = topics !== null ? topics : table;
  const topicErr = checkTopics(effective);
  if (topicErr !== null) return fail(topicErr);
  // The assembler alone, on a program with no table of its own: the config names its topics.
  const topicBound = lenientTopics && topics === null && table.length == 0
    ? MAX_TOPICS
    : effective.length;

  // First pass: count instructions and constants so the arrays are sized once.
  let count = 0;
  let constCount = 0;
  let scan = pos;
  while (scan + 8 <= size && count <= MAX_INSTRUCTIONS) {
    const op = bytes[scan];
    const a = u16at(bytes, scan + 4);
    if (op == OP_CONST) constCount += a;
    scan += 8 + operandBytes(op, a);
    count++;
  }
  if (count > MAX_INSTRUCTIONS + 1) count = MAX_INSTRUCTIONS + 1;
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
  const lens = new StaticArray<i32>(registers);
  let constAt = 0;
  let emits = 0;
  let i = 0;
  while (pos < size) {
    curIndex = i;
    curName = "";
    if (i >= MAX_INSTRUCTIONS) {
      return fail("more than " + MAX_INSTRUCTIONS.toString() + " instructions", i);
    }
    if (pos + 8 > size) return fail("instruction " + i.toString() + ": truncated header", i);
    const op = bytes[pos];
    const flags = bytes[pos + 1];
    const dst = u16at(bytes, pos + 2);
    const a = u16at(bytes, pos + 4);
    const b = u16at(bytes, pos + 6);
    const name = mnemonic(op);
    if (name === null) {
      return fail("instruction " + i.toString() + ": unknown opcode 0x" +
        (<i32>op).toString(16).padStart(2, "0"), i);
    }
    curName = name;
    const need = operandBytes(op, a);
    if (pos + 8 + need > size) return failOp("truncated operands");
    const badFlags = op == OP_ACT ? (flags < ACT_RELU || flags > ACT_TANH) : flags != 0;
    if (badFlags) return failOp("bad flags 0x" + (<i32>flags).toString(16));
    let result = 0;
    let la = 0;
    let lb = 0;
    let offset: u32 = 0;
    let num: u32 = 0;
    if (op == OP_LOAD) {
      if (a != 0) return failOp("unused field a must be 0");
      if (b != 0) return failOp("unused field b must be 0");
      offset = u32at(bytes, pos + 8);
      num = u32at(bytes, pos + 12);
      if (num < 1 || num > <u32>length) {
        return failOp("length " + num.toString() + " is not in 1.." + length.toString());
      }
      result = <i32>num;
    } else if (op == OP_DOT || op == OP_ADD || op == OP_MUL) {
      if (a >= registers) return failOp(regMsg("a", a, registers));
      if (lens[a] == 0) return failOp(unwrittenMsg("a", a));
      la = lens[a];
      if (b >= registers) return failOp(regMsg("b", b, registers));
      if (lens[b] == 0) return failOp(unwrittenMsg("b", b));
      lb = lens[b];
      if (op == OP_DOT) {
        if (la != lb) return failOp(lengthsMsg(a, la, b, lb));
        result = 1;
      } else {
        if (la != lb && la != 1 && lb != 1) return failOp(lengthsMsg(a, la, b, lb));
        result = max(la, lb);
      }
    } else if (op == OP_SUM || op == OP_SCALE || op == OP_ACT) {
      if (a >= registers) return failOp(regMsg("a", a, registers));
      if (lens[a] == 0) return failOp(unwrittenMsg("a", a));
      la = lens[a];
      if (b != 0) return failOp("unused field b must be 0");
      result = op == OP_SUM ? 1 : la;
      if (op == OP_SCALE) offset = u32at(bytes, pos + 8);
    } else if (op == OP_STORE) {
      if (dst != 0) return failOp("unused field dst must be 0");
      if (a >= registers) return failOp(regMsg("a", a, registers));
      if (lens[a] == 0) return failOp(unwrittenMsg("a", a));
      la = lens[a];
      if (b != 0) return failOp("unused field b must be 0");
      offset = u32at(bytes, pos + 8);
      if (<u64>offset + <u64>la > <u64>MAX_OUTPUT_LENGTH) {
        return failOp("writes floats [" + offset.toString() + ", " +
          (<u64>offset + <u64>la).toString() + ") past the output buffer of " +
          MAX_OUTPUT_LENGTH.toString());
      }
    } else if (op == OP_EMIT) {
      if (dst != 0) return failOp("unused field dst must be 0");
      if (b != 0) return failOp("unused field b must be 0");
      if (a >= topicBound) {
        return failOp("topic " + a.toString() + " is not below the " + topicBound.toString() +
          " topics");
      }
      emits++;
      if (emits > MAX_EMITS) return failOp("more than " + MAX_EMITS.toString() + " emits");
    } else { // CONST
      if (b != 0) return failOp("unused field b must be 0");
      if (a < 1 || a > length) {
        return failOp("count " + a.toString() + " is not in 1.." + length.toString());
      }
      offset = <u32>constAt;
      for (let k = 0; k < a; k++) {
        p.consts[constAt++] = reinterpret<f32>(u32at(bytes, pos + 8 + 4 * k));
      }
      result = a;
    }
    if (result > 0) {
      if (dst >= registers) return failOp(regMsg("dst", dst, registers));
      lens[dst] = result;
    }
    p.op[i] = op;
    p.flags[i] = flags;
    p.dst[i] = dst;
    p.a[i] = a;
    p.b[i] = b;
    p.la[i] = la;
    p.lb[i] = lb;
    p.offset[i] = offset;
    p.num[i] = num;
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
