/**
 * Deterministic derivations for replay (docs/time.md): everything the node and the operator
 * host put on a pulse that is not carried by its producer is a function of the log, never
 * of the wall clock or a random source, so replaying a reality's inputs reproduces its
 * outputs bit for bit.
 *
 * - Every reality has a seed ({@linkcode realitySeed}); a pulse published without an
 *   `entropy_seed` gets {@linkcode pulseSeed}`(realitySeed, sequence)`.
 * - An operator's output `i` for an input pulse gets its id, timestamp and entropy seed
 *   from {@linkcode deriveOutput}`(input, operator, i)`.
 *
 * Seeds the node derives are below 2^53: exact as JSON numbers and in JavaScript.
 * @module
 */
import { sha256 } from "@noble/hashes/sha2.js";
import type { IHlcTimestamp } from "../protocol/mod.ts";

const HEX: string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));
const encoder = new TextEncoder();
const TWO32 = 2 ** 32;
/** Domain separation of the two SHA-256 derivations. */
const REALITY_TAG = "arqon/reality-seed/v1\0";
const OUTPUT_TAG = "arqon/output/v1\0";

/**
 * SHA-256 with the output tag already absorbed: each derivation copies its state into one
 * scratch hasher (`_cloneInto`, no allocation) and digests into one scratch array, instead
 * of a fresh hasher, its buffers and a message array per output (5.6 -> 2.1 µs measured on
 * the loaded machine; the digest is the same, derive_test checks it against the one-shot
 * `sha256`).
 */
const TAGGED = sha256.create().update(encoder.encode(OUTPUT_TAG));
const scratch = sha256.create();
const digest = new Uint8Array(32);
/** u64be(seed) + u64be(wallMs) + u32be(logical) + u32be(index), rewritten per call. */
const fields = new Uint8Array(24);
const fieldView = new DataView(fields.buffer);

// The outputs of one operator come in runs: its name's bytes are kept from the last call
// (two TextEncoder calls were ~2.5 µs of an output's ~11 µs here).
let lastOperator = "";
let lastOperatorBytes = new Uint8Array(0);
function operatorBytes(operator: string): Uint8Array {
  if (operator !== lastOperator) {
    lastOperatorBytes = encoder.encode(operator);
    lastOperator = operator;
  }
  return lastOperatorBytes;
}

/** The 53 low bits of 7 bytes (big-endian) at `at`, as an exact number. */
function seed53(h: Uint8Array, at: number): number {
  const hi = ((h[at] & 0x1f) << 16) | (h[at + 1] << 8) | h[at + 2];
  const lo = ((h[at + 3] << 24) | (h[at + 4] << 16) | (h[at + 5] << 8) | h[at + 6]) >>> 0;
  return hi * TWO32 + lo;
}

/**
 * The seed of a reality: the first 53 bits of SHA-256("arqon/reality-seed/v1\0" + name).
 * A fork keeps the seeds its inputs carry, so it needs no seed of its own.
 *
 * @example
 * ```ts
 * import { realitySeed } from "./derive.ts";
 * console.log(realitySeed("default") < 2 ** 53); // true
 * ```
 */
export function realitySeed(reality: string): number {
  return seed53(sha256(encoder.encode(REALITY_TAG + reality)), 0);
}

/** murmur3's 32-bit finalizer. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * The entropy seed the node gives a pulse published without one: a 53-bit mix of the
 * reality's seed and the pulse's sequence (32-bit arithmetic only: it runs per pulse).
 * With s = seed, q = sequence, split into 32-bit halves (hi, lo):
 * `a = fmix32(s.lo ^ q.lo ^ imul(s.hi ^ q.hi, 0x9e3779b9))`,
 * `b = fmix32(s.hi ^ q.hi ^ imul(a, 0x27d4eb2f) ^ 0x165667b1)`,
 * seed = `(b & 0x1fffff) * 2^32 + a`.
 */
export function pulseSeed(reality: number, sequence: number): number {
  // Halves by integer conversion (`x >>> 0` is x mod 2^32 for integers below 2^53): float
  // `%` and `Math.floor` cost tens of ns each here.
  const rLo = reality >>> 0;
  const sLo = sequence >>> 0;
  const lo = (rLo ^ sLo) >>> 0;
  const hi = (((reality - rLo) / TWO32) ^ ((sequence - sLo) / TWO32)) >>> 0;
  const a = fmix32(lo ^ Math.imul(hi, 0x9e3779b9));
  const b = fmix32(hi ^ Math.imul(a, 0x27d4eb2f) ^ 0x165667b1);
  return (b & 0x1fffff) * TWO32 + a;
}

/** What {@linkcode deriveOutput} reads of the input pulse. */
export interface DerivationInput {
  /** The input's entropy seed (u64). */
  readonly entropySeed: bigint;
  /** The input's HLC wall time, ms. */
  readonly wallMs: bigint;
  /** The input's HLC logical counter. */
  readonly logical: number;
}

/** What an operator output carries from its input. */
export interface DerivedStamp {
  /** A UUIDv7 whose time is the input's wall time and whose other bits come from the hash. */
  readonly id: string;
  /** The input's wall time; logical = the input's + index + 1. */
  readonly timestamp: IHlcTimestamp;
  /** 53 bits of the hash. */
  readonly entropySeed: number;
}

/**
 * Id, timestamp and entropy seed of output `index` (0-based) of `operator` for one input.
 * h = SHA-256("arqon/output/v1\0" + u64be(seed) + u64be(wallMs) + u32be(logical) +
 * u32be(index) + operator name (UTF-8)); the id is a UUIDv7 with the input's wall time and
 * h[0..10) in its random bits; the seed is the 53 low bits of h[10..17).
 *
 * @example
 * ```ts
 * import { deriveOutput } from "./derive.ts";
 * const out = deriveOutput({ entropySeed: 7n, wallMs: 1700000000000n, logical: 0 }, "echo", 0);
 * console.log(out.id.slice(14, 15)); // "7"
 * ```
 */
export function deriveOutput(
  input: DerivationInput,
  operator: string,
  index: number,
): DerivedStamp {
  fieldView.setBigUint64(0, BigInt.asUintN(64, input.entropySeed));
  fieldView.setBigUint64(8, BigInt.asUintN(64, input.wallMs));
  fieldView.setUint32(16, input.logical >>> 0);
  fieldView.setUint32(20, index >>> 0);
  TAGGED._cloneInto(scratch);
  scratch.update(fields).update(operatorBytes(operator)).digestInto(digest);
  const h = digest;
  const ms = Number(BigInt.asUintN(48, input.wallMs));
  const hi = Math.floor(ms / 0x1000000);
  const lo = ms % 0x1000000;
  const id = HEX[(hi >>> 16) & 0xff] + HEX[(hi >>> 8) & 0xff] + HEX[hi & 0xff] +
    HEX[(lo >>> 16) & 0xff] + "-" + HEX[(lo >>> 8) & 0xff] + HEX[lo & 0xff] + "-" +
    HEX[0x70 | (h[0] & 0x0f)] + HEX[h[1]] + "-" + HEX[0x80 | (h[2] & 0x3f)] + HEX[h[3]] + "-" +
    HEX[h[4]] + HEX[h[5]] + HEX[h[6]] + HEX[h[7]] + HEX[h[8]] + HEX[h[9]];
  return {
    id,
    timestamp: { wallMs: ms, logical: (input.logical + index + 1) >>> 0 },
    entropySeed: seed53(h, 10),
  };
}
