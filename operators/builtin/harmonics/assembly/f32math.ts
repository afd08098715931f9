// The float32 functions of the Harmonics interpreter, step for step the same as the
// TypeScript reference's (`../f32math.ts`): each line below is one float32 operation there
// wrapped in `Math.fround`. Constants are given by their bits so both sides hold the same
// values. Keep the two files in step.

const INV_LN2: f32 = reinterpret<f32>(0x3fb8aa3b);
const LN2_HI: f32 = reinterpret<f32>(0x3f317200);
const LN2_LO: f32 = reinterpret<f32>(0x35bfbe8e);
const C7: f32 = reinterpret<f32>(0x39500d01);
const C6: f32 = reinterpret<f32>(0x3ab60b61);
const C5: f32 = reinterpret<f32>(0x3c088889);
const C4: f32 = reinterpret<f32>(0x3d2aaaab);
const C3: f32 = reinterpret<f32>(0x3e2aaaab);
const T11: f32 = reinterpret<f32>(0xbc11371b);
const T9: f32 = reinterpret<f32>(0x3cb327a4);
const T7: f32 = reinterpret<f32>(0xbd5d0dd1);
const T5: f32 = reinterpret<f32>(0x3e088889);
const T3: f32 = reinterpret<f32>(0xbeaaaaab);

/** e^x: +inf above 88, +0 below -87. */
export function expF32(x: f32): f32 {
  if (x != x) return x;
  if (x > <f32>88) return <f32>Infinity;
  if (x < <f32>-87) return 0;
  const kf: f32 = Mathf.floor(x * INV_LN2 + <f32>0.5);
  let r: f32 = x - kf * LN2_HI;
  r = r - kf * LN2_LO;
  let p: f32 = C7;
  p = p * r + C6;
  p = p * r + C5;
  p = p * r + C4;
  p = p * r + C3;
  p = p * r + <f32>0.5;
  p = p * r + <f32>1;
  p = p * r + <f32>1;
  const k = <i32>kf;
  return p * reinterpret<f32>((k + 127) << 23);
}

/** ReLU: +0 for x < 0, else x. */
export function reluF32(x: f32): f32 {
  return x < <f32>0 ? <f32>0 : x;
}

/** 1 / (1 + e^-x). */
export function sigmoidF32(x: f32): f32 {
  return <f32>1 / (<f32>1 + expF32(-x));
}

/** tanh: odd Taylor polynomial below |x| = 0.25, else (1 - e^-2|x|) / (1 + e^-2|x|). */
export function tanhF32(x: f32): f32 {
  if (x != x || x == 0) return x; // NaN, and zeros keep their sign
  const ax = Mathf.abs(x);
  if (ax < <f32>0.25) {
    const x2 = x * x;
    let s: f32 = T11;
    s = s * x2 + T9;
    s = s * x2 + T7;
    s = s * x2 + T5;
    s = s * x2 + T3;
    return x + x * (x2 * s);
  }
  const t = expF32(<f32>-2 * ax);
  const y = (<f32>1 - t) / (<f32>1 + t);
  return x < <f32>0 ? -y : y;
}

function pow10(n: i32): f64 {
  if (n > 400) return Infinity;
  let p: f64 = 1;
  for (let k = 0; k < n; k++) p *= 10;
  return p;
}

/** Set when `parseF32` refused its text. */
export let parseFailed: bool = false;

/**
 * The assembler's decimal reader, the same algorithm as the reference's `parseF32`: up to 15
 * significant digits, `m * 10^e` or `m / 10^-e` in float64, then rounded to float32.
 */
export function parseF32(text: string): f32 {
  parseFailed = false;
  const n = text.length;
  let i = 0;
  let sign: f64 = 1;
  if (n > 0 && (text.charCodeAt(0) == 43 || text.charCodeAt(0) == 45)) {
    if (text.charCodeAt(0) == 45) sign = -1;
    i = 1;
  }
  const rest = text.substring(i);
  if (rest == "inf") return <f32>(sign * Infinity);
  if (rest == "nan" && i == 0) return <f32>NaN;
  let m: f64 = 0;
  let e: i32 = 0;
  let digits = 0;
  let point = false;
  for (; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c == 46 && !point) {
      point = true;
      continue;
    }
    if (c < 48 || c > 57) break;
    digits++;
    if (m < 1e14) {
      m = m * 10 + <f64>(c - 48);
      if (point) e--;
    } else if (!point) e++;
  }
  if (digits == 0) {
    parseFailed = true;
    return 0;
  }
  if (i < n && (text.charCodeAt(i) == 101 || text.charCodeAt(i) == 69)) {
    i++;
    let esign: i32 = 1;
    if (i < n && (text.charCodeAt(i) == 43 || text.charCodeAt(i) == 45)) {
      if (text.charCodeAt(i) == 45) esign = -1;
      i++;
    }
    let ex: i32 = 0;
    let ed = 0;
    for (; i < n; i++) {
      const c = text.charCodeAt(i);
      if (c < 48 || c > 57) break;
      ed++;
      if (ex < 100000) ex = ex * 10 + (c - 48);
    }
    if (ed == 0) {
      parseFailed = true;
      return 0;
    }
    e += esign * ex;
  }
  if (i != n) {
    parseFailed = true;
    return 0;
  }
  if (m == 0) return <f32>(sign * 0);
  const v: f64 = e >= 0 ? m * pow10(e) : m / pow10(-e);
  return <f32>(sign * v);
}
