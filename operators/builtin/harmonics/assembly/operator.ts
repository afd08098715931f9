// The shipped operator `harmonics`: runs a Harmonics program (vector bytecode over float32s,
// see docs/operators.md) on the payload of every input pulse and publishes what it EMITs.
//
// Config: {"program": "<base64 bytecode>"} or {"source": "<assembler text>"}, and optionally
// {"topics": ["a.b", ...]} replacing the program's topic table. `init` decodes and
// validates the program (every register, length and output bound); `handle` checks only
// what depends on the payload (its size, each LOAD's range). A pulse the program cannot
// run on is logged and fails (a trap the host counts; the instance is rebuilt), so a bad
// input never yields a partial or made-up output.
import {
  JsonKind,
  JsonValue,
  log,
  LogLevel,
  output,
  parseJsonString,
  Pulse,
} from "@arqon/operator";
import { assembleText, asmError } from "./asm";
import { decodeBase64 } from "./base64";
import { ConfigMember, readConfig } from "./config";
import { reluF32, sigmoidF32, tanhF32 } from "./f32math";
import {
  ACT_RELU,
  ACT_SIGMOID,
  decodeProgram,
  errorMessage,
  MAX_OUTPUT_LENGTH,
  MAX_PROGRAM_BYTES,
  Program,
} from "./program";

const CONTENT_TYPE = "application/octet-stream";
/** Most characters of assembler text in the config (assembling costs about 1,000 fuel each). */
const MAX_SOURCE_CHARS: i32 = 65536;

let program: Program | null = null;
let regs: StaticArray<f32> = new StaticArray<f32>(0);
let out: StaticArray<f32> = new StaticArray<f32>(0);

function configError(message: string): string {
  return "harmonics: " + message;
}

/** What the config gives, read by either reader. */
class Given {
  program: string | null = null; // base64 text
  source: string | null = null;
  topics: string[] | null = null;
  error: string | null = null;
  hasProgram: bool = false;
  hasSource: bool = false;
}

function memberError(key: string): string {
  if (key == "program") return "program must be a base64 string";
  if (key == "source") return "source must be assembler text";
  return "topics must be an array of topics";
}

function fastRead(members: ConfigMember[]): Given {
  const g = new Given();
  for (let i = 0; i < members.length && g.error === null; i++) {
    const m = members[i];
    const k = m.key;
    if (k != "program" && k != "source" && k != "topics") {
      g.error = "unknown config member '" + k + "'";
    } else if ((k == "topics") != m.isArray) g.error = memberError(k);
    else if (k == "program") {
      g.hasProgram = true;
      g.program = m.value;
    } else if (k == "source") {
      g.hasSource = true;
      g.source = m.value;
    } else g.topics = m.items;
  }
  return g;
}

function slowRead(config: string): Given {
  const g = new Given();
  const c = parseJsonString(config);
  if (c === null || c.kind != JsonKind.Object) {
    g.error = "config must be a JSON object";
    return g;
  }
  for (let i = 0; i < c.keys.length && g.error === null; i++) {
    const k = c.keys[i];
    const v: JsonValue = c.values[i];
    if (k != "program" && k != "source" && k != "topics") {
      g.error = "unknown config member '" + k + "'";
    } else if (k == "topics") {
      if (v.kind != JsonKind.Array) g.error = memberError(k);
      else {
        const topics: string[] = [];
        for (let j = 0; j < v.items.length; j++) {
          if (v.items[j].kind != JsonKind.String) g.error = memberError(k);
          else topics.push(v.items[j].str);
        }
        g.topics = topics;
      }
    } else if (v.kind != JsonKind.String) g.error = memberError(k);
    else if (k == "program") {
      g.hasProgram = true;
      g.program = v.str;
    } else {
      g.hasSource = true;
      g.source = v.str;
    }
  }
  return g;
}

export function init(config: string): string | null {
  const members = readConfig(config);
  const g = members !== null ? fastRead(members) : slowRead(config);
  if (g.error !== null) return configError(g.error!);
  if (g.hasProgram == g.hasSource) {
    return configError("config needs exactly one of program (base64) and source (text)");
  }
  let bytes: Uint8Array;
  if (g.hasProgram) {
    const text = g.program!;
    if (text.length > (MAX_PROGRAM_BYTES / 3 + 1) * 4) {
      return configError("program of " + (text.length / 4 * 3).toString() +
        " bytes is over the limit of " + MAX_PROGRAM_BYTES.toString());
    }
    const decoded = decodeBase64(text);
    if (decoded === null) return configError("program is not valid base64");
    bytes = decoded;
  } else {
    const source = g.source!;
    if (source.length > MAX_SOURCE_CHARS) {
      return configError("source is longer than " + MAX_SOURCE_CHARS.toString() + " characters");
    }
    const assembled = assembleText(source);
    if (assembled === null) return configError(asmError);
    bytes = assembled;
  }
  const p = decodeProgram(bytes, g.topics);
  if (p === null) return configError(errorMessage);
  program = p;
  regs = new StaticArray<f32>(p.registers * p.length);
  out = new StaticArray<f32>(MAX_OUTPUT_LENGTH);
  return null;
}

let outLen: i32 = 0;

function refuse(message: string): void {
  log(LogLevel.Error, "harmonics: " + message);
  // The host counts a trapped pulse as failed and rebuilds the instance from `init`.
  unreachable();
}

// The pulse being run. Indices below are unchecked: `decodeProgram` proved every register,
// length and offset in range (and a checked index costs as much fuel as its throw path).
// Each opcode runs in its own function, called through a table: fuel is
// charged for every branch of a loop body on each pass, so the loop over instructions stays
// small and each instruction pays for its own opcode only.
let P: Program = new Program();
let base: usize = 0;
let floats: u32 = 0;
let results: Pulse[] = [];

function runNone(i: i32): void {}

function runLoad(i: i32): void {
  const off = unchecked(P.offset[i]);
  const n = unchecked(P.num[i]);
  if (<u64>off + <u64>n > <u64>floats) {
    refuse("instruction " + i.toString() + ": load: reads floats [" + off.toString() + ", " +
      (<u64>off + <u64>n).toString() + ") of a payload of " + floats.toString());
  }
  const d = unchecked(P.dst[i]) * P.length;
  const from = base + (<usize>off << 2);
  for (let k: i32 = 0; k < <i32>n; k++) unchecked(regs[d + k] = load<f32>(from + (<usize>k << 2)));
}

function runDot(i: i32): void {
  const ra = unchecked(P.a[i]) * P.length;
  const rb = unchecked(P.b[i]) * P.length;
  const n = unchecked(P.la[i]);
  let acc: f32 = 0;
  for (let k = 0; k < n; k++) acc += unchecked(regs[ra + k]) * unchecked(regs[rb + k]);
  unchecked(regs[unchecked(P.dst[i]) * P.length] = acc);
}

function runSum(i: i32): void {
  const ra = unchecked(P.a[i]) * P.length;
  const n = unchecked(P.la[i]);
  let acc: f32 = 0;
  for (let k = 0; k < n; k++) acc += unchecked(regs[ra + k]);
  unchecked(regs[unchecked(P.dst[i]) * P.length] = acc);
}

function runScale(i: i32): void {
  const ra = unchecked(P.a[i]) * P.length;
  const d = unchecked(P.dst[i]) * P.length;
  const n = unchecked(P.la[i]);
  const f = reinterpret<f32>(unchecked(P.offset[i]));
  for (let k = 0; k < n; k++) unchecked(regs[d + k] = unchecked(regs[ra + k]) * f);
}

function runAdd(i: i32): void {
  const ra = unchecked(P.a[i]) * P.length;
  const rb = unchecked(P.b[i]) * P.length;
  const d = unchecked(P.dst[i]) * P.length;
  const la = unchecked(P.la[i]);
  const lb = unchecked(P.lb[i]);
  // Read broadcast scalars first: dst may be the same register.
  const a0 = unchecked(regs[ra]);
  const b0 = unchecked(regs[rb]);
  if (la == lb) for (let k = 0; k < la; k++) unchecked(regs[d + k] = unchecked(regs[ra + k]) + unchecked(regs[rb + k]));
  else if (la == 1) for (let k = 0; k < lb; k++) unchecked(regs[d + k] = a0 + unchecked(regs[rb + k]));
  else for (let k = 0; k < la; k++) unchecked(regs[d + k] = unchecked(regs[ra + k]) + b0);
}

function runMul(i: i32): void {
  const ra = unchecked(P.a[i]) * P.length;
  const rb = unchecked(P.b[i]) * P.length;
  const d = unchecked(P.dst[i]) * P.length;
  const la = unchecked(P.la[i]);
  const lb = unchecked(P.lb[i]);
  const a0 = unchecked(regs[ra]);
  const b0 = unchecked(regs[rb]);
  if (la == lb) for (let k = 0; k < la; k++) unchecked(regs[d + k] = unchecked(regs[ra + k]) * unchecked(regs[rb + k]));
  else if (la == 1) for (let k = 0; k < lb; k++) unchecked(regs[d + k] = a0 * unchecked(regs[rb + k]));
  else for (let k = 0; k < la; k++) unchecked(regs[d + k] = unchecked(regs[ra + k]) * b0);
}

function runAct(i: i32): void {
  const ra = unchecked(P.a[i]) * P.length;
  const d = unchecked(P.dst[i]) * P.length;
  const n = unchecked(P.la[i]);
  const kind = unchecked(P.flags[i]);
  // One loop per kind: a loop body is charged for all its branches on every pass.
  if (kind == ACT_RELU) {
    for (let k = 0; k < n; k++) unchecked(regs[d + k] = reluF32(unchecked(regs[ra + k])));
  } else if (kind == ACT_SIGMOID) {
    for (let k = 0; k < n; k++) unchecked(regs[d + k] = sigmoidF32(unchecked(regs[ra + k])));
  } else {
    for (let k = 0; k < n; k++) unchecked(regs[d + k] = tanhF32(unchecked(regs[ra + k])));
  }
}

function runStore(i: i32): void {
  const ra = unchecked(P.a[i]) * P.length;
  const off = <i32>unchecked(P.offset[i]);
  const n = unchecked(P.la[i]);
  for (let k = 0; k < n; k++) {
    const v = unchecked(regs[ra + k]);
    // One canonical NaN goes out, whatever sign or payload the arithmetic left.
    unchecked(out[off + k] = v != v ? reinterpret<f32>(0x7fc00000) : v);
  }
  outLen = max(outLen, off + n);
}

function runEmit(i: i32): void {
  const bytes = new Uint8Array(outLen << 2);
  memory.copy(bytes.dataStart, changetype<usize>(out), <usize>(outLen << 2));
  results.push(output(P.topics[unchecked(P.a[i])], bytes, CONTENT_TYPE));
  memory.fill(changetype<usize>(out), 0, <usize>(outLen << 2));
  outLen = 0;
}

function runConst(i: i32): void {
  const d = unchecked(P.dst[i]) * P.length;
  const at = <i32>unchecked(P.offset[i]);
  const n = unchecked(P.a[i]);
  for (let k = 0; k < n; k++) unchecked(regs[d + k] = unchecked(P.consts[at + k]));
}

const RUN: StaticArray<(i: i32) => void> = [
  runNone,
  runLoad,
  runDot,
  runSum,
  runScale,
  runAdd,
  runAct,
  runStore,
  runEmit,
  runMul,
  runConst,
];

export function handle(pulse: Pulse): Pulse[] {
  P = program!;
  results = [];
  const payload = pulse.payload;
  const size = payload.length;
  if (size % 4 != 0) {
    refuse("payload of " + size.toString() + " bytes is not a whole number of float32s");
  }
  floats = <u32>(size / 4);
  base = payload.dataStart;
  // The output buffer starts each pulse zeroed (STOREs after the last EMIT leave data).
  memory.fill(changetype<usize>(out), 0, <usize>(outLen << 2));
  outLen = 0;
  const n = P.count;
  const ops = P.op;
  for (let i = 0; i < n; i++) unchecked(RUN[<i32>unchecked(ops[i])])(i);
  return results;
}
