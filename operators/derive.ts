/**
 * What an operator output derives from its input (docs/time.md): the input's entropy seed
 * and HLC time, read off the input pulse for `deriveOutput`.
 * @module
 */
import type { arqon } from "../runtime/protocol/mod.ts";
import type { DerivationInput } from "../runtime/time/mod.ts";
export { deriveOutput } from "../runtime/time/mod.ts";

/** The derivation input of an input pulse (absent fields count as 0). */
export function derivationOf(input: arqon.v1.IPulse): DerivationInput {
  return {
    entropySeed: BigInt(input.entropySeed?.toString() ?? 0),
    wallMs: BigInt(input.timestamp?.wallMs?.toString() ?? 0),
    logical: Number(input.timestamp?.logical ?? 0),
  };
}
