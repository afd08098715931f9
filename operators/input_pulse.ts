/**
 * An input pulse as an operator sees it (world `operator`'s `pulse` record): what the runner
 * hands to its Worker, headers sorted by name so `handle` sees them in one order whatever
 * order the producer sent them in.
 * @module
 */
import type { arqon } from "../runtime/protocol/mod.ts";
import { u64Of } from "./derive.ts";
import { operatorSpectralOf } from "./spectral_abi.ts";
import type { OperatorPulse } from "./world.ts";

/** The operator's view of input pulse `p` (absent fields empty or 0). */
export function toOperatorPulse(p: arqon.v1.IPulse): OperatorPulse {
  const headers = Object.entries(p.headers ?? {}).sort((a, b) => a[0] < b[0] ? -1 : 1);
  return {
    topic: p.topic ?? "",
    reality: p.realityId ?? "",
    producer: p.producerId ?? "",
    headers,
    contentType: p.contentType ?? "",
    payload: p.payload ?? new Uint8Array(0),
    entropySeed: u64Of(p.entropySeed),
    wallMs: u64Of(p.timestamp?.wallMs),
    logical: Number(p.timestamp?.logical ?? 0),
    spectral: operatorSpectralOf(p.spectral),
  };
}
