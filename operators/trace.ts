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

function hex(bytes: number): string {
  const b = crypto.getRandomValues(new Uint8Array(bytes));
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
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
