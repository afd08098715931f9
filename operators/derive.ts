/**
 * What an operator output derives from its input (docs/time.md): the input's entropy seed
 * and HLC time, read off the input pulse for `deriveOutput`.
 * @module
 */
import type { arqon } from "../runtime/protocol/mod.ts";
import type { DerivationInput } from "../runtime/time/mod.ts";
export { deriveOutput } from "../runtime/time/mod.ts";

/**
 * A u64 field of a decoded pulse (a number, or a protobufjs `Long` above 2^53) as a bigint;
 * absent counts as 0. A number converts directly: its `toString` and a parse of it were
 * most of an input's conversion.
 */
export function u64Of(v: number | { toString(): string } | null | undefined): bigint {
  if (typeof v === "number") return Number.isInteger(v) ? BigInt(v) : BigInt(v.toString());
  return v == null ? 0n : BigInt(v.toString());
}

/** The derivation input of an input pulse (absent fields count as 0). */
export function derivationOf(input: arqon.v1.IPulse): DerivationInput {
  return {
    entropySeed: u64Of(input.entropySeed),
    wallMs: u64Of(input.timestamp?.wallMs),
    logical: Number(input.timestamp?.logical ?? 0),
  };
}
