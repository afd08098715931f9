/**
 * Spectral metadata of a pulse (PRD FR-EMERG-01): `coherence`, `criticality` and
 * `eigenvalues`, set by clients on publish and by operators on their outputs. The node
 * checks it once, where every pulse enters (the Spine), so subscribers and filters never
 * see a NaN or an unbounded list.
 *
 * @example
 * ```ts
 * import { spectralError } from "./spectral.ts";
 *
 * spectralError({ coherence: 0.8, criticality: 0.1, eigenvalues: [1, 0.5] }); // undefined
 * spectralError({ coherence: NaN }); // "spectral.coherence must be a finite number, got NaN"
 * ```
 * @module
 */
import type { ISpectral } from "./types.ts";

/**
 * Most eigenvalues one pulse may carry: filters and operators read them per delivery, and
 * a spectrum is a summary, not a payload (put large vectors in the payload).
 */
export const MAX_EIGENVALUES = 64;

/** Why `s` is not valid spectral metadata; undefined when it is. */
export function spectralError(s: ISpectral): string | undefined {
  const c = s.coherence ?? 0;
  if (!Number.isFinite(c)) return `spectral.coherence must be a finite number, got ${c}`;
  const k = s.criticality ?? 0;
  if (!Number.isFinite(k)) return `spectral.criticality must be a finite number, got ${k}`;
  const e = s.eigenvalues;
  if (!e) return undefined;
  if (e.length > MAX_EIGENVALUES) {
    return `spectral.eigenvalues has ${e.length} values, more than the limit of ${MAX_EIGENVALUES}`;
  }
  for (let i = 0; i < e.length; i++) {
    if (!Number.isFinite(e[i])) {
      return `spectral.eigenvalues[${i}] must be a finite number, got ${e[i]}`;
    }
  }
  return undefined;
}
