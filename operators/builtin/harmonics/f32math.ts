/**
 * The float32 functions the Harmonics interpreters share, written so that the TypeScript
 * reference and the AssemblyScript operator (`assembly/f32math.ts`, the same steps) give
 * bit-identical results: every step is one IEEE float32 operation (`Math.fround` here, native
 * f32 in Wasm), constants are given by their bits, and `exp` is our own (Cody-Waite range
 * reduction and a degree-7 Taylor polynomial) rather than a libm's, whose last bits differ
 * between engines. A double-rounded float32 `+ - * /` through float64 equals the direct
 * float32 operation (53 >= 2 * 24 + 2), so `Math.fround(a + b)` is exact emulation.
 *
 * Also the decimal reader of the assembler, the same in both languages for the same reason.
 * @module
 */

const f = Math.fround;
const scratch = new DataView(new ArrayBuffer(4));

/** The float32 with these bits. */
export function fromBits(bits: number): number {
  scratch.setUint32(0, bits >>> 0, true);
  return scratch.getFloat32(0, true);
}

/** The bits of a float32 value (NaNs as the canonical quiet NaN 0x7fc00000). */
export function toBits(value: number): number {
  if (value !== value) return 0x7fc00000;
  scratch.setFloat32(0, value, true);
  return scratch.getUint32(0, true);
}

const INV_LN2 = fromBits(0x3fb8aa3b);
const LN2_HI = fromBits(0x3f317200);
const LN2_LO = fromBits(0x35bfbe8e);
const C7 = fromBits(0x39500d01);
const C6 = fromBits(0x3ab60b61);
const C5 = fromBits(0x3c088889);
const C4 = fromBits(0x3d2aaaab);
const C3 = fromBits(0x3e2aaaab);
const T11 = fromBits(0xbc11371b);
const T9 = fromBits(0x3cb327a4);
const T7 = fromBits(0xbd5d0dd1);
const T5 = fromBits(0x3e088889);
const T3 = fromBits(0xbeaaaaab);

/**
 * e^x in float32 steps: +inf above 88, +0 below -87 (the subnormal range is not kept: the
 * activations that use it round to 0 or 1 there anyway).
 */
export function expF32(x: number): number {
  if (x !== x) return x;
  if (x > 88) return Infinity;
  if (x < -87) return 0;
  const k = Math.floor(f(f(x * INV_LN2) + 0.5));
  let r = f(x - f(k * LN2_HI));
  r = f(r - f(k * LN2_LO));
  let p = C7;
  p = f(f(p * r) + C6);
  p = f(f(p * r) + C5);
  p = f(f(p * r) + C4);
  p = f(f(p * r) + C3);
  p = f(f(p * r) + 0.5);
  p = f(f(p * r) + 1);
  p = f(f(p * r) + 1);
  return f(p * fromBits(((k + 127) << 23) >>> 0));
}

/** ReLU: +0 for x < 0, else x (NaN stays NaN, -0 stays -0). */
export function reluF32(x: number): number {
  return x < 0 ? 0 : x;
}

/** Sigmoid: 1 / (1 + e^-x), in float32 steps. */
export function sigmoidF32(x: number): number {
  return f(1 / f(1 + expF32(-x)));
}

/**
 * tanh: an odd Taylor polynomial below |x| = 0.25 (where 1 - e^-2|x| would cancel), else
 * (1 - e^-2|x|) / (1 + e^-2|x|) with the sign of x, in float32 steps.
 */
export function tanhF32(x: number): number {
  if (x !== x || x === 0) return x; // NaN, and zeros keep their sign
  const ax = Math.abs(x);
  if (ax < 0.25) {
    const x2 = f(x * x);
    let s = T11;
    s = f(f(s * x2) + T9);
    s = f(f(s * x2) + T7);
    s = f(f(s * x2) + T5);
    s = f(f(s * x2) + T3);
    return f(x + f(x * f(x2 * s)));
  }
  const t = expF32(f(-2 * ax));
  const y = f(f(1 - t) / f(1 + t));
  return x < 0 ? -y : y;
}

/**
 * Reads a decimal number (`[+-]digits[.digits][e[+-]digits]`, or `inf`, `-inf`, `nan`) as
 * the float32 the assembler encodes, or null when the text is not one. Up to 15 significant
 * digits count (later ones are dropped); the value is `m * 10^e` or `m / 10^-e` in float64
 * (powers of ten by repeated multiplication), then rounded to float32: exactly what the
 * AssemblyScript reader does.
 */
export function parseF32(text: string): number | null {
  let i = 0;
  let sign = 1;
  if (text[0] === "+" || text[0] === "-") {
    if (text[0] === "-") sign = -1;
    i = 1;
  }
  const rest = text.slice(i);
  if (rest === "inf") return sign * Infinity;
  if (rest === "nan" && i === 0) return NaN;
  let m = 0;
  let e = 0;
  let digits = 0;
  let point = false;
  for (; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 46 && !point) {
      point = true;
      continue;
    }
    if (c < 48 || c > 57) break;
    digits++;
    if (m < 1e14) {
      m = m * 10 + (c - 48);
      if (point) e--;
    } else if (!point) e++;
  }
  if (digits === 0) return null;
  if (i < text.length && (text[i] === "e" || text[i] === "E")) {
    i++;
    let esign = 1;
    if (text[i] === "+" || text[i] === "-") {
      if (text[i] === "-") esign = -1;
      i++;
    }
    let ex = 0;
    let ed = 0;
    for (; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c < 48 || c > 57) break;
      ed++;
      if (ex < 100000) ex = ex * 10 + (c - 48);
    }
    if (ed === 0) return null;
    e += esign * ex;
  }
  if (i !== text.length) return null;
  if (m === 0) return f(sign * 0);
  const v = e >= 0 ? m * pow10(e) : m / pow10(-e);
  return f(sign * v);
}

function pow10(n: number): number {
  if (n > 400) return Infinity;
  let p = 1;
  for (let k = 0; k < n; k++) p *= 10;
  return p;
}
