// Built-in operator `nvm-job`: runs a simulated experiment per submitted job (PRD US-01).
//
// Input on `nvm.job.submit` (JSON):
//   {job_id, steps, dt, k_c, joules, n?, damping?, noise?, reports?}
// The experiment is a ring of `n` unit oscillators (own spring 1, coupling `k_c` to each
// neighbour, damping `damping`) integrated with semi-implicit Euler for `steps` steps of
// `dt`. Oscillator 0 starts displaced with the job's energy (`joules`, spring and bonds); each step
// adds uniform noise of amplitude `noise * sqrt(dt)` to every velocity, drawn from a
// xorshift generator seeded by the input pulse's entropy seed and the job id. Everything is
// a function of the input pulse: the same submit gives the same outputs, bit for bit.
//
// Outputs: `reports` progress pulses on `nvm.job.result.<job_id>`, evenly spaced, each
//   {job_id, step, state: {x: [...], v: [...], energy}, done}
// the last with done: true. Each carries header `arqon-reply` (`more`, the last `final`):
// when the submit pulse was a request, the node also sends each one as a reply to it, the
// last as the final reply (docs/operators.md, "Replies").
//
// A submit that is not JSON, or whose fields are missing or out of range, emits one pulse
// on `nvm.job.rejected`, {"error": {"code": "INVALID_ARGUMENT", "message": ...}}, with header
// `arqon-error: INVALID_ARGUMENT`: a requester receives that typed error.
import {
  Header,
  JsonKind,
  JsonParser,
  JsonValue,
  output,
  outputText,
  parseJsonString,
  Pulse,
} from "@arqon/operator";

const RESULT_PREFIX = "nvm.job.result.";
const REJECTED_TOPIC = "nvm.job.rejected";
const MAX_JOB_ID = 64;
const MAX_N: i32 = 16;
const MAX_REPORTS: i32 = 32;

/**
 * Largest `steps * n` a job may ask for (config `max_work`): bounds the fuel one job burns.
 * A unit costs about 375 fuel, so the default fits the default 10M fuel per pulse; raise
 * `limits.fuel` with it.
 */
let maxWork: f64 = 20_000;

export function init(config: string): string | null {
  const c = parseJsonString(config);
  if (c === null || c.kind != JsonKind.Object) return "config must be a JSON object";
  const w = c.get("max_work");
  if (w !== null) {
    if (w.kind != JsonKind.Number || !isFinite(w.num) || w.num < 1) {
      return "config.max_work must be a number >= 1";
    }
    maxWork = w.num;
  }
  return null;
}

/** A job's parameters, checked. */
class Job {
  id: string = "";
  steps: i32 = 0;
  dt: f64 = 0;
  kc: f64 = 0;
  joules: f64 = 0;
  n: i32 = 4;
  damping: f64 = 0.05;
  noise: f64 = 0.01;
  reports: i32 = 10;
}

/** Why a job is refused (null once `job` is filled). */
let problem: string | null = null;

function refuse(message: string): Job | null {
  problem = message;
  return null;
}

function numberOf(doc: JsonValue, key: string): JsonValue | null {
  const v = doc.get(key);
  if (v === null || v.kind != JsonKind.Number || !isFinite(v.num)) return null;
  return v;
}

function validId(id: string): bool {
  if (id.length == 0 || id.length > MAX_JOB_ID) return false;
  for (let i = 0; i < id.length; i++) {
    const c = id.charCodeAt(i);
    const ok = (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c == 0x5f || c == 0x2d;
    if (!ok) return false;
  }
  return true;
}

function parseJob(payload: Uint8Array): Job | null {
  const parser = new JsonParser(payload);
  const doc = parser.parse();
  if (doc === null) {
    const why = parser.error;
    return refuse("the job is not valid JSON (" + (why === null ? "invalid" : why) + ")");
  }
  if (doc.kind != JsonKind.Object) return refuse("the job must be a JSON object");
  const job = new Job();
  const id = doc.get("job_id");
  if (id === null || id.kind != JsonKind.String || !validId(id.str)) {
    return refuse("job_id must be 1-64 characters of [a-z0-9_-]");
  }
  job.id = id.str;
  const steps = numberOf(doc, "steps");
  if (steps === null || steps.num < 1 || steps.num != Math.floor(steps.num)) {
    return refuse("steps must be an integer >= 1");
  }
  const dt = numberOf(doc, "dt");
  if (dt === null || dt.num <= 0 || dt.num > 1) return refuse("dt must be a number in (0, 1]");
  job.dt = dt.num;
  const kc = numberOf(doc, "k_c");
  if (kc === null || kc.num < 0 || kc.num > 100) return refuse("k_c must be a number in [0, 100]");
  job.kc = kc.num;
  const joules = numberOf(doc, "joules");
  if (joules === null || joules.num < 0 || joules.num > 1e6) {
    return refuse("joules must be a number in [0, 1e6]");
  }
  job.joules = joules.num;
  const n = doc.get("n");
  if (n !== null) {
    if (n.kind != JsonKind.Number || n.num < 2 || n.num > <f64>MAX_N || n.num != Math.floor(n.num)) {
      return refuse("n must be an integer in 2.." + MAX_N.toString());
    }
    job.n = <i32>n.num;
  }
  if (steps.num * <f64>job.n > maxWork) {
    return refuse(
      "steps * n must be at most " + maxWork.toString() + " (the operator's max_work)",
    );
  }
  job.steps = <i32>steps.num;
  const damping = doc.get("damping");
  if (damping !== null) {
    if (damping.kind != JsonKind.Number || !isFinite(damping.num) || damping.num < 0 || damping.num > 10) {
      return refuse("damping must be a number in [0, 10]");
    }
    job.damping = damping.num;
  }
  const noise = doc.get("noise");
  if (noise !== null) {
    if (noise.kind != JsonKind.Number || !isFinite(noise.num) || noise.num < 0 || noise.num > 10) {
      return refuse("noise must be a number in [0, 10]");
    }
    job.noise = noise.num;
  }
  const reports = doc.get("reports");
  if (reports !== null) {
    if (
      reports.kind != JsonKind.Number || reports.num < 1 || reports.num > <f64>MAX_REPORTS ||
      reports.num != Math.floor(reports.num)
    ) {
      return refuse("reports must be an integer in 1.." + MAX_REPORTS.toString());
    }
    job.reports = <i32>reports.num;
  }
  if (job.reports > job.steps) job.reports = job.steps;
  // Semi-implicit Euler is stable while the fastest mode's omega * dt stays below 2
  // (omega^2 = 1 + 4 k_c on a ring): refuse what would blow up rather than emit infinities.
  if (job.dt * Math.sqrt(1 + 4 * job.kc) >= 1.9) {
    return refuse("dt * sqrt(1 + 4 k_c) must stay below 1.9 (the integration would diverge)");
  }
  return job;
}

/** xorshift64*: the job's noise source, seeded by the pulse's entropy seed and the job id. */
let rng: u64 = 1;

function seed(entropy: u64, id: string): void {
  // FNV-1a over the id, mixed with the seed (splitmix64 finalizer) so no seed gives state 0.
  let h: u64 = 0xcbf29ce484222325;
  for (let i = 0; i < id.length; i++) {
    h ^= <u64>id.charCodeAt(i);
    h *= 0x100000001b3;
  }
  let z: u64 = entropy ^ h;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9;
  z = (z ^ (z >> 27)) * 0x94d049bb133111eb;
  z = z ^ (z >> 31);
  rng = z == 0 ? 0x9e3779b97f4a7c15 : z;
}

/** Uniform in [-1, 1). */
function noise(): f64 {
  rng ^= rng >> 12;
  rng ^= rng << 25;
  rng ^= rng >> 27;
  const r = rng * 0x2545f4914f6cdd1d;
  return <f64>(r >> 11) / 4503599627370496.0 - 1.0; // 2^52: (r >> 11) / 2^53 * 2 - 1
}

/**
 * Writes a progress payload straight into bytes: numbers as fixed-point with 9 decimals
 * (trailing zeros trimmed), no string concatenation. Formatting with `f64.toString` and `+=`
 * cost about 8,000 fuel a number; this costs a few hundred.
 */
class Writer {
  buf: Uint8Array;
  len: i32 = 0;
  constructor(size: i32) {
    this.buf = new Uint8Array(size);
  }
  byte(c: i32): void {
    this.buf[this.len++] = <u8>c;
  }
  /** ASCII text (topics, ids and keys here are ASCII by construction). */
  ascii(s: string): void {
    for (let i = 0; i < s.length; i++) this.byte(s.charCodeAt(i));
  }
  uint(v: u64): void {
    const start = this.len;
    do {
      this.byte(<i32>(v % 10) + 0x30);
      v /= 10;
    } while (v > 0);
    // Digits came out least significant first.
    for (let i = start, j = this.len - 1; i < j; i++, j--) {
      const t = this.buf[i];
      this.buf[i] = this.buf[j];
      this.buf[j] = t;
    }
  }
  /** |v| < MAX_ABS (checked by the caller). */
  fixed(v: f64): void {
    const scaled = <u64>Math.round(Math.abs(v) * 1e9);
    if (scaled == 0) {
      this.byte(0x30);
      return;
    }
    if (v < 0) this.byte(0x2d);
    this.uint(scaled / 1_000_000_000);
    let frac = scaled % 1_000_000_000;
    if (frac == 0) return;
    this.byte(0x2e);
    let div: u64 = 100_000_000;
    while (frac > 0) {
      this.byte(<i32>(frac / div) + 0x30);
      frac %= div;
      div /= 10;
    }
  }
  list(a: StaticArray<f64>): void {
    this.byte(0x5b);
    for (let i = 0; i < a.length; i++) {
      if (i > 0) this.byte(0x2c);
      this.fixed(a[i]);
    }
    this.byte(0x5d);
  }
  bytes(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}

/** Largest state value written; beyond it (or not finite) the run is reported as diverged. */
const MAX_ABS: f64 = 1e9;

function sane(a: StaticArray<f64>): bool {
  for (let i = 0; i < a.length; i++) {
    if (!(Math.abs(a[i]) < MAX_ABS)) return false;
  }
  return true;
}

function jsonString(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c == 0x22) out += '\\"';
    else if (c == 0x5c) out += "\\\\";
    else if (c < 0x20) out += " ";
    else out += String.fromCharCode(c);
  }
  return out + '"';
}

function progress(job: Job, step: i32, x: StaticArray<f64>, v: StaticArray<f64>, done: bool): Pulse {
  let energy: f64 = 0;
  const n = job.n;
  for (let i = 0; i < n; i++) {
    const d = x[i] - (i + 1 < n ? x[i + 1] : x[0]);
    energy += 0.5 * v[i] * v[i] + 0.5 * x[i] * x[i] + 0.5 * job.kc * d * d;
  }
  const w = new Writer(160 + 2 * 32 * n);
  w.ascii('{"job_id":"');
  w.ascii(job.id);
  w.ascii('","step":');
  w.uint(<u64>step);
  w.ascii(',"state":{"x":');
  w.list(x);
  w.ascii(',"v":');
  w.list(v);
  w.ascii(',"energy":');
  w.fixed(energy);
  w.ascii(done ? '},"done":true}' : '},"done":false}');
  const out = output(RESULT_PREFIX + job.id, w.bytes(), "application/json");
  out.headers = [new Header("arqon-reply", done ? "final" : "more")];
  return out;
}

function rejected(message: string): Pulse {
  const out = outputText(
    REJECTED_TOPIC,
    '{"error":{"code":"INVALID_ARGUMENT","message":' + jsonString(message) + "}}",
  );
  out.headers = [new Header("arqon-error", "INVALID_ARGUMENT"), new Header("arqon-reply", "final")];
  return out;
}

export function handle(pulse: Pulse): Pulse[] {
  problem = null;
  const job = parseJob(pulse.payload);
  if (job === null) return [rejected(problem === null ? "invalid job" : problem!)];
  seed(pulse.entropySeed, job.id);
  const n = job.n;
  const x = new StaticArray<f64>(n);
  const v = new StaticArray<f64>(n);
  const a = new StaticArray<f64>(n);
  // The job's energy all in oscillator 0's displacement: its own spring and its two bonds.
  x[0] = Math.sqrt(2 * job.joules / (1 + 2 * job.kc));
  const dt = job.dt;
  const kick = job.noise * Math.sqrt(dt);
  const kc = job.kc;
  const damping = job.damping;
  const outputs = new Array<Pulse>(0);
  // Report k (1-based) after step floor(k * steps / reports): the last after the last step.
  let nextReport: i32 = 1;
  let reportAt: i32 = <i32>(<i64>job.steps / <i64>job.reports);
  for (let step: i32 = 1; step <= job.steps; step++) {
    let left = x[n - 1];
    for (let i = 0; i < n; i++) {
      const here = x[i];
      const right = i + 1 < n ? x[i + 1] : x[0];
      a[i] = -here - kc * (2 * here - left - right) - damping * v[i];
      left = here;
    }
    for (let i = 0; i < n; i++) {
      v[i] += a[i] * dt + kick * noise();
      x[i] += v[i] * dt;
    }
    if (step == reportAt) {
      if (!sane(x) || !sane(v)) {
        return [rejected("the integration diverged at step " + step.toString())];
      }
      outputs.push(progress(job, step, x, v, step == job.steps));
      nextReport++;
      reportAt = <i32>(<i64>job.steps * <i64>nextReport / <i64>job.reports);
    }
  }
  return outputs;
}
