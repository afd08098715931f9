/**
 * The shipped demo circuit (docs/operators.md, "Circuits"): float32 PCM frames on
 * `audio.frame` -> `window` (a Hamming window, a `harmonics` program) -> `features`
 * (`harmonics`: frame energy, zero-crossing rate and a 15-bin DFT's spectral moment and
 * powers) -> `classify` (threshold rules, with the spectral centroid and a tonality derived
 * there, since the bytecode has no division) -> `audio.class`, JSON
 * `{"class": "silence" | "noise" | "low_tone" | "high_tone", "values": {...}}`.
 *
 * Frames are {@linkcode FRAME} samples at {@linkcode SAMPLE_RATE} Hz; the DFT looks at 250,
 * 500, ..., 3750 Hz (every 4th bin of a 128-point DFT).
 *
 * @example
 * ```ts
 * import { demoCircuit } from "./demo.ts";
 *
 * const body = JSON.stringify(demoCircuit());
 * // PUT it to /v1/realities/default/circuits/audio
 * ```
 * @module
 */
import { base64 } from "@scure/base";
import { assemble } from "../builtin/harmonics/mod.ts";

/** Samples in one frame. */
export const FRAME = 128;
/** Sample rate the frequencies assume, Hz. */
export const SAMPLE_RATE = 8000;
/** The frequencies the features' DFT measures, Hz. */
export const DFT_HZ: readonly number[] = Array.from({ length: 15 }, (_, k) => 250 * (k + 1));
/** Names of the features' float32s, in order. */
export const FEATURES = ["energy", "zcr", "moment", "power", "power_sq", "power2"] as const;
/** The classes `classify` names. */
export const CLASSES = ["silence", "noise", "low_tone", "high_tone"] as const;

/** Topics of the demo. */
export const DEMO_TOPICS = Object.freeze({
  frames: "audio.frame",
  windowed: "audio.windowed",
  features: "audio.features",
  classes: "audio.class",
});

const nums = (xs: readonly number[]) => xs.map((x) => String(Math.fround(x))).join(", ");

/** The `window` program: multiplies the frame by a Hamming window. */
export function windowSource(out = DEMO_TOPICS.windowed): string {
  const w = Array.from(
    { length: FRAME },
    (_, n) => 0.54 - 0.46 * Math.cos(2 * Math.PI * n / FRAME),
  );
  return [
    `.topic ${out}`,
    `load r0, 0, ${FRAME}`,
    `const r1, ${nums(w)}`,
    "mul r0, r0, r1",
    "store r0, 0",
    `emit ${out}`,
  ].join("\n");
}

/**
 * The `features` program: energy (mean square), zero-crossing rate (signs by tanh(10^4·x)),
 * and over the DFT bins: moment Σ f·p, power Σ p, Σ p² and (Σ p)², with p = re² + im².
 */
export function featuresSource(out = DEMO_TOPICS.features): string {
  const lines = [
    `.topic ${out}`,
    `load r0, 0, ${FRAME}`,
    "dot r1, r0, r0",
    `scale r1, r1, ${1 / FRAME}`,
    // Zero crossings: pairs (x[i], x[i+1]) whose signs differ, s = tanh(10^4 x) ~ ±1.
    `load r2, 0, ${FRAME - 1}`,
    `load r3, 1, ${FRAME - 1}`,
    "scale r2, r2, 10000",
    "act r2, r2, tanh",
    "scale r3, r3, 10000",
    "act r3, r3, tanh",
    "mul r4, r2, r3",
    "sum r4, r4",
    `scale r4, r4, ${-1 / (2 * (FRAME - 1))}`,
    "const r5, 0.5",
    "add r4, r4, r5", // zcr = (n - Σ s_i s_i+1) / 2n
    "const r6, 0", // moment
    "const r7, 0", // power
    "const r8, 0", // Σ p²
  ];
  for (const hz of DFT_HZ) {
    const w = 2 * Math.PI * hz / SAMPLE_RATE;
    lines.push(
      `const r9, ${nums(Array.from({ length: FRAME }, (_, n) => Math.cos(w * n)))}`,
      "dot r10, r0, r9",
      "mul r10, r10, r10",
      `const r9, ${nums(Array.from({ length: FRAME }, (_, n) => Math.sin(w * n)))}`,
      "dot r11, r0, r9",
      "mul r11, r11, r11",
      "add r10, r10, r11",
      "add r7, r7, r10",
      "mul r11, r10, r10",
      "add r8, r8, r11",
      `scale r10, r10, ${hz}`,
      "add r6, r6, r10",
    );
  }
  lines.push(
    "mul r12, r7, r7",
    "store r1, 0",
    "store r4, 1",
    "store r6, 2",
    "store r7, 3",
    "store r8, 4",
    "store r12, 5",
    `emit ${out}`,
  );
  return lines.join("\n");
}

const vector = (n: number) => ({
  type: "array",
  items: { type: "number" },
  minItems: n,
  maxItems: n,
});

/** The config of the demo's `classify` stage. */
export function classifyConfig(to = DEMO_TOPICS.classes): Record<string, unknown> {
  return {
    to,
    features: [...FEATURES],
    ratios: { centroid_hz: ["moment", "power"], tonality: ["power_sq", "power2"] },
    rules: [
      { class: "silence", when: { energy: { below: 1e-5 } } },
      // A tone puts its power in one bin (tonality ~1); white noise spreads it (~2/15).
      { class: "noise", when: { tonality: { below: 0.5 } } },
      { class: "low_tone", when: { centroid_hz: { below: 1000 } } },
    ],
    default: "high_tone",
  };
}

/** The demo circuit's definition (the body of `PUT /v1/realities/{r}/circuits/{name}`). */
export function demoCircuit(): { stages: Record<string, unknown>[] } {
  const t = DEMO_TOPICS;
  const program = (source: string) => base64.encode(assemble(source));
  return {
    stages: [{
      operator: {
        builtin: "harmonics",
        config: { program: program(windowSource()) },
        card: {
          capabilities: ["audio.window.hamming"],
          input_encoding: "f32le",
          output_encoding: "f32le",
          input_schema: vector(FRAME),
          output_schema: vector(FRAME),
        },
      },
      in: t.frames,
      out: t.windowed,
    }, {
      operator: {
        builtin: "harmonics",
        config: { program: program(featuresSource()) },
        card: {
          capabilities: ["audio.features"],
          input_encoding: "f32le",
          output_encoding: "f32le",
          input_schema: vector(FRAME),
          output_schema: vector(FEATURES.length),
        },
      },
      in: t.windowed,
      out: t.features,
    }, {
      operator: {
        builtin: "classify",
        config: classifyConfig(),
        card: {
          capabilities: ["audio.classify"],
          input_encoding: "f32le",
          input_schema: vector(FEATURES.length),
          output_schema: {
            type: "object",
            required: ["class", "values"],
            properties: {
              class: { enum: [...CLASSES] },
              values: { type: "object", additionalProperties: { type: "number" } },
            },
          },
        },
      },
      in: t.features,
      out: t.classes,
    }],
  };
}

/** A frame of a sine tone (`hz`, amplitude `amp`), float32 little-endian bytes. */
export function toneFrame(hz: number, amp = 0.5, phase = 0.3): Uint8Array {
  const x = new Float32Array(FRAME);
  for (let n = 0; n < FRAME; n++) x[n] = amp * Math.sin(2 * Math.PI * hz * n / SAMPLE_RATE + phase);
  return new Uint8Array(x.buffer);
}

/** A frame of uniform white noise from a seeded generator (amplitude `amp`). */
export function noiseFrame(seed: number, amp = 0.5): Uint8Array {
  let s = seed >>> 0;
  const x = new Float32Array(FRAME);
  for (let n = 0; n < FRAME; n++) {
    // mulberry32
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    x[n] = amp * (2 * (((t ^ (t >>> 14)) >>> 0) / 4294967296) - 1);
  }
  return new Uint8Array(x.buffer);
}
