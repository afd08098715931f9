// The Harmonics assembler inside the operator (config `source`): the port of `../asm.ts`,
// rule for rule and message for message, so that text given to the node assembles into the
// bytes `deno task harmonics:asm` writes (keep the two in step).
import { parseF32, parseFailed } from "./f32math";
import {
  ACT_RELU,
  ACT_SIGMOID,
  ACT_TANH,
  decodeProgram,
  errorInstruction,
  errorMessage,
  MAX_PROGRAM_BYTES,
  MAX_TOPICS,
  OP_ACT,
  OP_ADD,
  OP_CONST,
  OP_DOT,
  OP_EMIT,
  OP_LOAD,
  OP_MUL,
  OP_SCALE,
  OP_STORE,
  OP_SUM,
  PROGRAM_HEADER_BYTES,
  VERSION,
} from "./program";

/** The error of the last `assembleText` that returned null (`line N: ...`). */
export let asmError: string = "";
let failed = false;

function err(line: i32, message: string): void {
  if (failed) return;
  failed = true;
  asmError = "line " + line.toString() + ": " + message;
}

function isSpace(c: i32): bool {
  return c == 32 || (c >= 9 && c <= 13) || c == 44 || c == 160 || c == 0x1680 ||
    (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 || c == 0x202f ||
    c == 0x205f || c == 0x3000 || c == 0xfeff;
}

function tokens(body: string): string[] {
  const out: string[] = [];
  let start = -1;
  for (let i = 0; i < body.length; i++) {
    const sp = isSpace(body.charCodeAt(i));
    if (sp && start >= 0) {
      out.push(body.substring(start, i));
      start = -1;
    } else if (!sp && start < 0) start = i;
  }
  if (start >= 0) out.push(body.substring(start));
  return out;
}

/**
 * ASCII lower case. The reference uses Unicode's `toLowerCase`; they differ only on
 * non-ASCII text, which neither accepts as a mnemonic, activation or number (and errors
 * quote the token as written).
 */
function lower(s: string): string {
  let upper = false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 65 && c <= 90) upper = true;
  }
  if (!upper) return s;
  const buf = new StaticArray<u16>(s.length);
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    unchecked(buf[i] = <u16>(c >= 65 && c <= 90 ? c + 32 : c));
  }
  return String.UTF16.decodeUnsafe(changetype<usize>(buf), <usize>s.length << 1);
}

function hexDigit(c: i32): i32 {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/** `tok` as an integer in 0..max (decimal or 0x hex); -1 (and an error) when not. */
function integer(tok: string, max: f64, what: string, line: i32): f64 {
  let v: f64 = -1;
  const n = tok.length;
  if (n > 2 && tok.charCodeAt(0) == 48 && (tok.charCodeAt(1) == 120 || tok.charCodeAt(1) == 88)) {
    v = 0;
    for (let i = 2; i < n; i++) {
      const d = hexDigit(tok.charCodeAt(i));
      if (d < 0) {
        v = -1;
        break;
      }
      v = v * 16 + <f64>d;
    }
  } else if (n > 0) {
    v = 0;
    for (let i = 0; i < n; i++) {
      const c = tok.charCodeAt(i);
      if (c < 48 || c > 57) {
        v = -1;
        break;
      }
      v = v * 10 + <f64>(c - 48);
    }
  }
  if (!(v >= 0 && v <= max)) {
    err(line, what + " '" + tok + "' is not an integer in 0.." + (<u64>max).toString());
    return -1;
  }
  return v;
}

function register(tok: string, line: i32): i32 {
  const n = tok.length;
  let ok = n >= 2 && (tok.charCodeAt(0) == 114 || tok.charCodeAt(0) == 82);
  for (let i = 1; ok && i < n; i++) {
    const c = tok.charCodeAt(i);
    if (c < 48 || c > 57) ok = false;
  }
  if (!ok) {
    err(line, "'" + tok + "' is not a register");
    return -1;
  }
  return <i32>integer(tok.substring(1), 65535, "register", line);
}

function float(tok: string, line: i32): u32 {
  const low = lower(tok);
  if (low.length == 14 && low.startsWith("f32:0x")) {
    let bits: u32 = 0;
    let ok = true;
    for (let i = 6; i < 14; i++) {
      const d = hexDigit(low.charCodeAt(i));
      if (d < 0) ok = false;
      bits = (bits << 4) | <u32>(d & 15);
    }
    if (ok) return bits;
  }
  const v = parseF32(low);
  if (parseFailed) {
    err(line, "'" + tok + "' is not a number");
    return 0;
  }
  return v != v ? 0x7fc00000 : reinterpret<u32>(v);
}

function opcode(name: string): i32 {
  if (name == "load") return OP_LOAD;
  if (name == "dot") return OP_DOT;
  if (name == "sum") return OP_SUM;
  if (name == "scale") return OP_SCALE;
  if (name == "add") return OP_ADD;
  if (name == "act") return OP_ACT;
  if (name == "store") return OP_STORE;
  if (name == "emit") return OP_EMIT;
  if (name == "mul") return OP_MUL;
  if (name == "const") return OP_CONST;
  return -1;
}

function allDigits(s: string): bool {
  if (s.length == 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

class Parsed {
  op: i32 = 0;
  flags: i32 = 0;
  dst: i32 = 0;
  a: i32 = 0;
  b: i32 = 0;
  words: u32[] = [];
  line: i32 = 0;
}

// The assembly in progress. Each kind of line is read by its own function, called through a
// table: fuel is charged for every branch of a loop body on each pass, so the loop over lines
// stays small.
let registers = -1;
let length = -1;
let registersLine = 1;
let lengthLine = 1;
let topics: string[] = [];
let topicLines: i32[] = [];
let code: Parsed[] = [];
let highReg = 0;
let highRegLine = 1;
let longest: i32 = 1;
let longestLine = 1;
let curLine = 0;
let head = "";
let toks: string[] = [];

function reg(tok: string): i32 {
  const r = register(tok, curLine);
  if (!failed && r > highReg) {
    highReg = r;
    highRegLine = curLine;
  }
  return r;
}

function want(k: i32): bool {
  const nargs = toks.length - 1;
  if (nargs == k) return true;
  err(curLine, head + " takes " + k.toString() + " operand(s), not " + nargs.toString());
  return false;
}

function lineUnknown(): void {
  err(curLine, "unknown mnemonic '" + toks[0] + "'");
}

function lineSize(): void {
  if (!want(1)) return;
  const isReg = head == ".registers";
  const v = integer(toks[1], isReg ? 255 : 65535, head.substring(1), curLine);
  if (failed) return;
  if ((isReg ? registers : length) >= 0) {
    err(curLine, head + " given twice");
    return;
  }
  if (isReg) {
    registers = <i32>v;
    registersLine = curLine;
  } else {
    length = <i32>v;
    lengthLine = curLine;
  }
}

function lineTopic(): void {
  if (!want(1)) return;
  if (topics.includes(toks[1])) {
    err(curLine, "topic " + toks[1] + " twice");
    return;
  }
  topics.push(toks[1]);
  topicLines.push(curLine);
}

function longer(n: i32): void {
  if (n > longest) {
    longest = n;
    longestLine = curLine;
  }
}

function parsed(op: i32): Parsed {
  const p = new Parsed();
  p.op = op;
  p.line = curLine;
  return p;
}

function lineConst(): void {
  if (toks.length < 3) {
    err(curLine, "const takes a register and values");
    return;
  }
  const p = parsed(OP_CONST);
  p.dst = reg(toks[1]);
  if (failed) return;
  p.a = toks.length - 2;
  if (p.a > 65535) {
    err(curLine, "const has too many values");
    return;
  }
  for (let k = 2; k < toks.length; k++) {
    p.words.push(float(toks[k], curLine));
    if (failed) return;
  }
  longer(p.a);
  code.push(p);
}

function lineLoad(): void {
  if (!want(3)) return;
  const p = parsed(OP_LOAD);
  p.dst = reg(toks[1]);
  if (!failed) p.words.push(<u32>integer(toks[2], 4294967295, "offset", curLine));
  if (!failed) p.words.push(<u32>integer(toks[3], 4294967295, "length", curLine));
  if (failed) return;
  longer(<i32>min<u32>(p.words[1], 65535));
  code.push(p);
}

function lineThree(): void {
  // dot, add, mul
  if (!want(3)) return;
  const p = parsed(opcode(head));
  p.dst = reg(toks[1]);
  if (!failed) p.a = reg(toks[2]);
  if (!failed) p.b = reg(toks[3]);
  if (!failed) code.push(p);
}

function lineSum(): void {
  if (!want(2)) return;
  const p = parsed(OP_SUM);
  p.dst = reg(toks[1]);
  if (!failed) p.a = reg(toks[2]);
  if (!failed) code.push(p);
}

function lineScale(): void {
  if (!want(3)) return;
  const p = parsed(OP_SCALE);
  p.dst = reg(toks[1]);
  if (!failed) p.a = reg(toks[2]);
  if (!failed) p.words.push(float(toks[3], curLine));
  if (!failed) code.push(p);
}

function lineAct(): void {
  if (!want(3)) return;
  const p = parsed(OP_ACT);
  p.dst = reg(toks[1]);
  if (!failed) p.a = reg(toks[2]);
  if (failed) return;
  const kind = lower(toks[3]);
  if (kind == "relu") p.flags = ACT_RELU;
  else if (kind == "sigmoid") p.flags = ACT_SIGMOID;
  else if (kind == "tanh") p.flags = ACT_TANH;
  else {
    err(curLine, "'" + toks[3] + "' is not relu, sigmoid or tanh");
    return;
  }
  code.push(p);
}

function lineStore(): void {
  if (!want(2)) return;
  const p = parsed(OP_STORE);
  p.a = reg(toks[1]);
  if (!failed) p.words.push(<u32>integer(toks[2], 4294967295, "offset", curLine));
  if (!failed) code.push(p);
}

function lineEmit(): void {
  if (!want(1)) return;
  const p = parsed(OP_EMIT);
  const t = toks[1];
  if (allDigits(t)) {
    p.a = <i32>integer(t, 65535, "topic index", curLine);
    if (failed) return;
  } else {
    let at = topics.indexOf(t);
    if (at < 0) {
      at = topics.length;
      topics.push(t);
      topicLines.push(curLine);
    }
    p.a = at;
  }
  code.push(p);
}

// By opcode (1..10), then 11: .registers/.length, 12: .topic; 0: unknown.
const LINE: StaticArray<() => void> = [
  lineUnknown,
  lineLoad,
  lineThree, // dot
  lineSum,
  lineScale,
  lineThree, // add
  lineAct,
  lineStore,
  lineEmit,
  lineThree, // mul
  lineConst,
  lineSize,
  lineTopic,
];

function lineKind(h: string): i32 {
  if (h == ".registers" || h == ".length") return 11;
  if (h == ".topic") return 12;
  const op = opcode(h);
  return op < 0 ? 0 : op;
}

/** Assembles and validates `text`; null (with `asmError`) when refused. */
export function assembleText(text: string): Uint8Array | null {
  failed = false;
  asmError = "";
  registers = -1;
  length = -1;
  registersLine = 1;
  lengthLine = 1;
  topics = [];
  topicLines = [];
  code = [];
  highReg = 0;
  highRegLine = 1;
  longest = 1;
  longestLine = 1;
  const lines = text.split("\n");
  for (let ln = 0; ln < lines.length; ln++) {
    curLine = ln + 1;
    const raw = lines[ln];
    const semi = raw.indexOf(";");
    toks = tokens(semi >= 0 ? raw.substring(0, semi) : raw);
    if (toks.length == 0) continue;
    head = lower(toks[0]);
    LINE[lineKind(head)]();
    if (failed) return null;
  }
  if (registers < 0) {
    registers = min(highReg + 1, 255);
    registersLine = highRegLine;
  }
  if (length < 0) {
    length = longest;
    lengthLine = longestLine;
  }
  // Encode.
  let size = PROGRAM_HEADER_BYTES;
  for (let t = 0; t < topics.length; t++) {
    const n = String.UTF8.byteLength(topics[t]);
    if (n > 255) {
      err(topicLines[t], "topic " + t.toString() + ": longer than 255 bytes");
      return null;
    }
    size += 1 + n;
  }
  for (let i = 0; i < code.length; i++) size += 8 + 4 * code[i].words.length;
  if (size > MAX_PROGRAM_BYTES) {
    err(code.length > 0 ? code[code.length - 1].line : 1, "program of " + size.toString() +
      " bytes is over the limit of " + MAX_PROGRAM_BYTES.toString());
    return null;
  }
  const out = new Uint8Array(size);
  out[0] = 0x48;
  out[1] = 0x41;
  out[2] = 0x52;
  out[3] = 0x4d;
  out[4] = VERSION;
  out[5] = <u8>registers;
  out[6] = <u8>(length & 0xff);
  out[7] = <u8>(length >> 8);
  out[8] = <u8>(topics.length & 0xff);
  out[9] = <u8>(topics.length >> 8);
  let pos = PROGRAM_HEADER_BYTES;
  for (let t = 0; t < topics.length; t++) {
    const name = Uint8Array.wrap(String.UTF8.encode(topics[t]));
    out[pos] = <u8>name.length;
    out.set(name, pos + 1);
    pos += 1 + name.length;
  }
  for (let i = 0; i < code.length; i++) {
    const p = code[i];
    out[pos] = <u8>p.op;
    out[pos + 1] = <u8>p.flags;
    store<u16>(out.dataStart + <usize>pos, <u16>p.dst, 2);
    store<u16>(out.dataStart + <usize>pos, <u16>p.a, 4);
    store<u16>(out.dataStart + <usize>pos, <u16>p.b, 6);
    for (let k = 0; k < p.words.length; k++) {
      store<u32>(out.dataStart + <usize>(pos + 8 + 4 * k), p.words[k]);
    }
    pos += 8 + 4 * p.words.length;
  }
  // Validate against the program's own table, as the TS assembler does; `init` validates
  // again with the config's topics.
  if (decodeProgram(out, null, true) === null) {
    let at = 1;
    const m = errorMessage;
    if (errorInstruction >= 0) at = code[errorInstruction].line;
    else if (m.startsWith("registers ")) at = registersLine;
    else if (m.startsWith("register length ")) at = lengthLine;
    else if (m.startsWith("topic ")) at = topicLines[leadingInt(m, 6)];
    else if (m.length > 0 && m.charCodeAt(0) >= 48 && m.charCodeAt(0) <= 57 &&
      m.includes(" topics")) at = topicLines[MAX_TOPICS];
    err(at, m);
    return null;
  }
  return out;
}

function leadingInt(s: string, from: i32): i32 {
  let v = 0;
  for (let i = from; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) break;
    v = v * 10 + (c - 48);
  }
  return v;
}
