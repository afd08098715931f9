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
import { reluF32, sigmoidF32, tanhF32 } from "./f32math";
import {
  ACT_RELU,
  ACT_SIGMOID,
  decodeProgram,
  errorMessage,
  MAX_OUTPUT_LENGTH,
  MAX_PROGRAM_BYTES,
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
  Program,
} from "./program";

const CONTENT_TYPE = "application/octet-stream";
/** Most bytes of assembler text in the config. */
const MAX_SOURCE_BYTES: i32 = 1048576;

let program: Program | null = null;
let regs: StaticArray<f32> = new StaticArray<f32>(0);
let out: StaticArray<f32> = new StaticArray<f32>(0);

function configError(message: string): string {
  return "harmonics: " + message;
}

export function init(config: string): string | null {
  const c = parseJsonString(config);
  if (c === null || c.kind != JsonKind.Object) return configError("config must be a JSON object");
  for (let i = 0; i < c.keys.length; i++) {
    const k = c.keys[i];
    if (k != "program" && k != "source" && k != "topics") {
      return configError("unknown config member '" + k + "'");
    }
  }
  let topics: string[] | null = null;
  const t = c.get("topics");
  if (t !== null) {
    if (t.kind != JsonKind.Array) return configError("topics must be an array of topics");
    topics = [];
    for (let i = 0; i < t.items.length; i++) {
      const item: JsonValue = t.items[i];
      if (item.kind != JsonKind.String) return configError("topics must be an array of topics");
      topics.push(item.str);
    }
  }
  const bin = c.get("program");
  const src = c.get("source");
  if ((bin === null) == (src === null)) {
    return configError("config needs exactly one of program (base64) and source (text)");
  }
  let bytes: Uint8Array;
  if (bin !== null) {
    if (bin.kind != JsonKind.String) return configError("program must be a base64 string");
    if (bin.str.length > (MAX_PROGRAM_BYTES / 3 + 1) * 4) {
      return configError("program of " + (bin.str.length / 4 * 3).toString() +
        " bytes is over the limit of " + MAX_PROGRAM_BYTES.toString());
    }
    const decoded = decodeBase64(bin.str);
    if (decoded === null) return configError("program is not valid base64");
    bytes = decoded;
  } else {
    if (src!.kind != JsonKind.String) return configError("source must be assembler text");
    if (src!.str.length > MAX_SOURCE_BYTES) {
      return configError("source is longer than " + MAX_SOURCE_BYTES.toString() + " bytes");
    }
    const assembled = assembleText(src!.str);
    if (assembled === null) return configError(asmError);
    bytes = assembled;
  }
  const p = decodeProgram(bytes, topics);
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

function activate(kind: u8, x: f32): f32 {
  if (kind == ACT_RELU) return reluF32(x);
  if (kind == ACT_SIGMOID) return sigmoidF32(x);
  return tanhF32(x);
}

export function handle(pulse: Pulse): Pulse[] {
  const p = program!;
  const results: Pulse[] = [];
  const payload = pulse.payload;
  const size = payload.length;
  if (size % 4 != 0) {
    refuse("payload of " + size.toString() + " bytes is not a whole number of float32s");
  }
  const floats = <u32>(size / 4);
  const base = payload.dataStart;
  const L = p.length;
  // The output buffer starts each pulse zeroed (STOREs after the last EMIT leave data).
  for (let k = 0; k < outLen; k++) unchecked(out[k] = 0);
  outLen = 0;
  for (let i = 0; i < p.count; i++) {
    const op = p.op[i];
    const d = p.dst[i] * L;
    const ra = p.a[i] * L;
    const rb = p.b[i] * L;
    const la = p.la[i];
    const lb = p.lb[i];
    if (op == OP_LOAD) {
      const off = p.offset[i];
      const n = p.num[i];
      if (<u64>off + <u64>n > <u64>floats) {
        refuse("instruction " + i.toString() + ": load: reads floats [" + off.toString() + ", " +
          (<u64>off + <u64>n).toString() + ") of a payload of " + floats.toString());
      }
      for (let k: i32 = 0; k < <i32>n; k++) {
        regs[d + k] = load<f32>(base + (<usize>off << 2) + (<usize>k << 2));
      }
    } else if (op == OP_DOT) {
      let acc: f32 = 0;
      for (let k = 0; k < la; k++) acc += regs[ra + k] * regs[rb + k];
      regs[d] = acc;
    } else if (op == OP_SUM) {
      let acc: f32 = 0;
      for (let k = 0; k < la; k++) acc += regs[ra + k];
      regs[d] = acc;
    } else if (op == OP_SCALE) {
      const f = reinterpret<f32>(p.offset[i]);
      for (let k = 0; k < la; k++) regs[d + k] = regs[ra + k] * f;
    } else if (op == OP_ADD || op == OP_MUL) {
      const n = max(la, lb);
      // Read broadcast scalars first: dst may be the same register.
      const a0 = regs[ra];
      const b0 = regs[rb];
      const add = op == OP_ADD;
      for (let k = 0; k < n; k++) {
        const x = la == 1 ? a0 : regs[ra + k];
        const y = lb == 1 ? b0 : regs[rb + k];
        regs[d + k] = add ? x + y : x * y;
      }
    } else if (op == OP_ACT) {
      const kind = p.flags[i];
      for (let k = 0; k < la; k++) regs[d + k] = activate(kind, regs[ra + k]);
    } else if (op == OP_STORE) {
      const off = <i32>p.offset[i];
      for (let k = 0; k < la; k++) {
        const v = regs[ra + k];
        // One canonical NaN goes out, whatever sign or payload the arithmetic left.
        out[off + k] = v != v ? reinterpret<f32>(0x7fc00000) : v;
      }
      outLen = max(outLen, off + la);
    } else if (op == OP_EMIT) {
      const bytes = new Uint8Array(outLen << 2);
      memory.copy(bytes.dataStart, changetype<usize>(out), <usize>(outLen << 2));
      results.push(output(p.topics[p.a[i]], bytes, CONTENT_TYPE));
      for (let k = 0; k < outLen; k++) unchecked(out[k] = 0);
      outLen = 0;
    } else if (op == OP_CONST) {
      const at = <i32>p.offset[i];
      const n = p.a[i];
      for (let k = 0; k < n; k++) regs[d + k] = p.consts[at + k];
    }
  }
  return results;
}
