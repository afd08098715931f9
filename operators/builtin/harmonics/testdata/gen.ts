/**
 * Random Harmonics programs and payloads for the differential tests: a seeded PRNG
 * (mulberry32), programs that validate by construction (straight-line, every length
 * tracked), and float32 payloads mixing ordinary values with the edges (zeros of both
 * signs, subnormals, huge values, infinities, NaNs, the activations' branch points).
 * @module
 */
import { formatF32 } from "../asm.ts";
import { toBits } from "../f32math.ts";

/** A seeded PRNG: floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const EDGES = [
  0,
  -0,
  1,
  -1,
  0.25,
  -0.25,
  0.2499999,
  87,
  -87,
  88,
  -88,
  87.5,
  -87.5,
  1e-40,
  -1e-45,
  3.4e38,
  -3.4e38,
  Infinity,
  -Infinity,
  NaN,
  1e-8,
  20,
  -20,
];

/** One random float32 value (as a number), edges included. */
export function randomF32(rnd: () => number): number {
  const k = rnd();
  if (k < 0.1) return Math.fround(EDGES[Math.floor(rnd() * EDGES.length)]);
  if (k < 0.2) {
    // Any bits at all (NaNs with payloads too).
    const b = new Uint32Array([Math.floor(rnd() * 2 ** 32)]);
    return new Float32Array(b.buffer)[0];
  }
  if (k < 0.4) return Math.fround((rnd() * 2 - 1) * 2 ** Math.floor(rnd() * 40 - 20));
  return Math.fround((rnd() * 2 - 1) * 8);
}

/** A payload of `n` random float32s, raw bits kept (NaN payloads included). */
export function randomPayload(rnd: () => number, n: number): Uint8Array {
  const bytes = new Uint8Array(4 * n);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < n; i++) {
    if (rnd() < 0.05) view.setUint32(4 * i, Math.floor(rnd() * 2 ** 32), true);
    else view.setFloat32(4 * i, randomF32(rnd), true);
  }
  return bytes;
}

/** A random program's text and the payload size (float32s) it reads within. */
export interface RandomProgram {
  /** Assembler text. */
  readonly text: string;
  /** It LOADs only from floats [0, floats). */
  readonly floats: number;
}

/** A random valid program over `floats` payload float32s. */
export function randomProgram(rnd: () => number): RandomProgram {
  const int = (n: number) => Math.floor(rnd() * n);
  const registers = 1 + int(8);
  const length = 1 + int(12);
  const floats = 1 + int(24);
  const lens: number[] = new Array(registers).fill(0);
  const lines = [`.registers ${registers}`, `.length ${length}`];
  const topics = 1 + int(3);
  for (let t = 0; t < topics; t++) lines.push(`.topic out.t${t}`);
  const written = () => lens.flatMap((l, r) => (l > 0 ? [r] : []));
  const f = () => formatF32(toBits(randomF32(rnd)));
  let emits = 0;
  const steps = 1 + int(30);
  for (let s = 0; s < steps; s++) {
    const live = written();
    const dst = int(registers);
    const k = live.length === 0 ? int(2) : int(11);
    if (k === 0) {
      const n = 1 + int(Math.min(length, floats));
      lines.push(`load r${dst}, ${int(floats - n + 1)}, ${n}`);
      lens[dst] = n;
    } else if (k === 1) {
      const n = 1 + int(length);
      lines.push(`const r${dst}, ${Array.from({ length: n }, f).join(", ")}`);
      lens[dst] = n;
    } else {
      const a = live[int(live.length)];
      const same = live.filter((r) => lens[r] === lens[a]);
      const pairable = live.filter((r) => lens[r] === lens[a] || lens[r] === 1 || lens[a] === 1);
      switch (k) {
        case 2: {
          const b = same[int(same.length)];
          lines.push(`dot r${dst}, r${a}, r${b}`);
          lens[dst] = 1;
          break;
        }
        case 3:
          lines.push(`sum r${dst}, r${a}`);
          lens[dst] = 1;
          break;
        case 4:
          lines.push(`scale r${dst}, r${a}, ${f()}`);
          lens[dst] = lens[a];
          break;
        case 5:
        case 6: {
          const b = pairable[int(pairable.length)];
          lines.push(`${k === 5 ? "add" : "mul"} r${dst}, r${a}, r${b}`);
          lens[dst] = Math.max(lens[a], lens[b]);
          break;
        }
        case 7:
        case 8:
          lines.push(`act r${dst}, r${a}, ${["relu", "sigmoid", "tanh"][int(3)]}`);
          lens[dst] = lens[a];
          break;
        case 9:
          lines.push(`store r${a}, ${int(40)}`);
          break;
        default:
          if (emits < 8) {
            lines.push(`emit ${int(topics)}`);
            emits++;
          }
      }
    }
  }
  const live = written();
  if (live.length > 0) lines.push(`store r${live[int(live.length)]}, ${int(8)}`);
  lines.push(`emit out.t0`);
  return { text: lines.join("\n") + "\n", floats };
}
