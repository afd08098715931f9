/**
 * The `spectral: option<spectral-metadata>` field of the operator world's `pulse` record in
 * guest memory (canonical ABI): a discriminant byte, then at +8 coherence (f64), at +16
 * criticality (f64), at +24 the eigenvalue list (pointer, count; 8-aligned f64s).
 * Outputs are checked here, before anything is published: a guest that emits NaN or more
 * than `MAX_EIGENVALUES` values fails that pulse (counted), it never reaches the Spine.
 * @module
 */
import { type ISpectral, MAX_EIGENVALUES, spectralError } from "../runtime/protocol/mod.ts";
import { type Instance, SandboxTrapError } from "../runtime/sandbox/mod.ts";
import type { OperatorSpectral } from "./world.ts";

/** A pulse's decoded spectral metadata as an operator receives it (null when none). */
export function operatorSpectralOf(s: ISpectral | null | undefined): OperatorSpectral | null {
  if (!s) return null;
  return {
    coherence: s.coherence ?? 0,
    criticality: s.criticality ?? 0,
    eigenvalues: s.eigenvalues ?? [],
  };
}

/** Eigenvalues as little-endian f64 bytes, as the guest reads a `list<f64>`. */
export function f64Bytes(values: readonly number[]): Uint8Array {
  const out = new Uint8Array(values.length * 8);
  const view = new DataView(out.buffer);
  for (let i = 0; i < values.length; i++) view.setFloat64(i * 8, values[i], true);
  return out;
}

/** Writes the option at `at` (the eigenvalues already copied to `eigenPtr`). */
export function writeSpectral(
  view: DataView,
  at: number,
  spectral: OperatorSpectral | null,
  eigenPtr: number,
): void {
  if (spectral === null) {
    // Padding and the absent payload are zeroed: guest memory from realloc may be dirty.
    for (let i = 0; i < 32; i += 4) view.setUint32(at + i, 0, true);
    return;
  }
  view.setUint32(at, 1, true);
  view.setUint32(at + 4, 0, true);
  view.setFloat64(at + 8, spectral.coherence, true);
  view.setFloat64(at + 16, spectral.criticality, true);
  view.setUint32(at + 24, eigenPtr, true);
  view.setUint32(at + 28, spectral.eigenvalues.length, true);
}

/**
 * Reads output `index`'s option at `at`; throws {@linkcode SandboxTrapError}
 * (`bad_result`) on a bad discriminant, a list out of memory or misaligned, more than
 * `MAX_EIGENVALUES` values, or a number that is not finite.
 */
export function readSpectral(inst: Instance, at: number, index: number): OperatorSpectral | null {
  const view = inst.view;
  const disc = inst.bytes[at];
  if (disc === 0) return null;
  if (disc !== 1) {
    throw new SandboxTrapError("bad_result", `output ${index} has spectral discriminant ${disc}`);
  }
  const ptr = view.getUint32(at + 24, true);
  const n = view.getUint32(at + 28, true);
  if (n > MAX_EIGENVALUES) {
    throw new SandboxTrapError(
      "bad_result",
      `output ${index} has ${n} eigenvalues, more than the limit of ${MAX_EIGENVALUES}`,
    );
  }
  const eigenvalues: number[] = new Array(n);
  if (n > 0) {
    if (ptr % 8 !== 0) {
      throw new SandboxTrapError("bad_result", `output ${index}'s eigenvalues are misaligned`);
    }
    inst.checkRange(ptr, n * 8, "output eigenvalues");
    for (let i = 0; i < n; i++) eigenvalues[i] = view.getFloat64(ptr + i * 8, true);
  }
  const spectral: OperatorSpectral = {
    coherence: view.getFloat64(at + 8, true),
    criticality: view.getFloat64(at + 16, true),
    eigenvalues,
  };
  const why = spectralError(spectral);
  if (why) throw new SandboxTrapError("bad_result", `output ${index}: ${why}`);
  return spectral;
}
