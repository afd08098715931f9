/**
 * What an operator's outputs carry from their input: the hop count (header `arqon-hops`,
 * which stops cycles) and the W3C trace (`traceparent`: the input's trace id, a new span id).
 * @module
 */

/** Header holding how many operator hops led to a pulse. */
export const HOPS_HEADER = "arqon-hops";

/** Default limit of hops; an output beyond it is dropped. */
export const DEFAULT_MAX_HOPS = 16;

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** Two hex digits of each byte value: one lookup per byte, no `padStart` or arrays. */
const HEX: readonly string[] = Array.from(
  { length: 256 },
  (_, i) => i.toString(16).padStart(2, "0"),
);

/**
 * Random bytes drawn 4 KiB at a time: one `getRandomValues` call serves 512 span ids
 * (it was one call, one array and one `Array.from` per output).
 */
const POOL = new Uint8Array(4096);
let poolAt = POOL.length;

function hex(bytes: number): string {
  if (poolAt + bytes > POOL.length) {
    crypto.getRandomValues(POOL);
    poolAt = 0;
  }
  let s = "";
  for (let i = poolAt, end = poolAt + bytes; i < end; i++) s += HEX[POOL[i]];
  poolAt += bytes;
  return s;
}

/** The hop count of a pulse from its headers (0 when absent or malformed). */
export function hopsOf(headers: Readonly<Record<string, string>> | null | undefined): number {
  const n = Number(headers?.[HOPS_HEADER] ?? 0);
  return Number.isSafeInteger(n) && n > 0 ? n : 0;
}

/**
 * The `traceparent` of an output of a pulse whose `traceparent` is `input`: same trace id
 * and flags, a new span id (a new trace when the input has none or a malformed one).
 */
export function childTraceparent(input: string | undefined): string {
  const m = input ? TRACEPARENT.exec(input) : null;
  if (!m || /^0+$/.test(m[2])) return `00-${hex(16)}-${hex(8)}-01`;
  return `${m[1]}-${m[2]}-${hex(8)}-${m[4]}`;
}
