/**
 * An operator's outputs made ready for the bus in its Worker, off the node's event loop:
 * everything they derive from their input (the hop count, the W3C trace, the semantic trace,
 * the id, time and entropy seed of docs/time.md) and their protobuf encoding (the producer's
 * bytes, without the node's stamp). The node then only checks, sequences and routes them.
 *
 * Measured (`bench:operators`, node pinned to one CPU): deriving and encoding an output cost
 * the node's event loop more than routing it (a SHA-256 per id, the encoding, a traceparent);
 * here they run on the Worker's thread, in parallel with the event loop on a machine with a
 * core to spare.
 * @module
 */
import type { arqon } from "../runtime/protocol/mod.ts";
import { derivationOf, deriveOutput } from "./derive.ts";
import { encodedOutput } from "./output_bytes.ts";
import { childTraceparent, HOPS_HEADER, hopsOf } from "./trace.ts";
import type { OperatorPulse, OperatorSpectral } from "./world.ts";

/** One output, ready to publish. */
export interface BuiltOutput {
  /** Topic. */
  readonly topic: string;
  /** The guest's headers, plus the hop count. */
  readonly headers: Record<string, string>;
  /** Content type. */
  readonly contentType: string;
  /** Payload. */
  readonly payload: Uint8Array;
  /** Spectral metadata, when the guest set some. */
  readonly spectral: OperatorSpectral | null;
  /** The input's trace id, a new span id. */
  readonly traceparent: string;
  /** The input's semantic trace, then this operator (the Spine adds the topic). */
  readonly semtrace: string[];
  /**
   * The `Pulse` encoding without id, time and seed (the node's stamp carries those); null
   * when the hand encoder does not write one of its fields (the Spine encodes it then).
   */
  readonly source: Uint8Array | null;
  /** Id derived from the input (docs/time.md). */
  readonly id: string;
  /** HLC wall time derived from the input. */
  readonly wallMs: number;
  /** HLC logical counter derived from the input. */
  readonly logical: number;
  /** Entropy seed derived from the input. */
  readonly entropySeed: number;
}

/** The outputs of one input pulse, ready to publish, and the hop count they carry. */
export interface BuiltOutputs {
  /** Hops of the outputs (the input's plus one): over the node's limit they are dropped. */
  readonly hops: number;
  /** The outputs, in order. */
  readonly outputs: BuiltOutput[];
}

/**
 * Builds the outputs `outputs` of `input` for operator `name` (producer `operator:<name>`)
 * of `reality`.
 *
 * @example
 * ```ts
 * import { buildOutputs } from "./output_build.ts";
 * const built = buildOutputs({ topic: "in", timestamp: { wallMs: 1, logical: 0 } }, [{
 *   topic: "out", reality: "", producer: "", headers: [], contentType: "text/plain",
 *   payload: new Uint8Array([104, 105]), entropySeed: 0n, wallMs: 0n, logical: 0,
 * }], "echo", "default");
 * built.hops; // 1
 * ```
 */
export function buildOutputs(
  input: arqon.v1.IPulse,
  outputs: readonly OperatorPulse[],
  name: string,
  reality: string,
): BuiltOutputs {
  const hops = hopsOf(input.headers) + 1;
  if (outputs.length === 0) return { hops, outputs: [] };
  const producer = `operator:${name}`;
  const from = derivationOf(input);
  const built: BuiltOutput[] = [];
  for (let index = 0; index < outputs.length; index++) {
    const out = outputs[index];
    const headers: Record<string, string> = {};
    for (const [k, v] of out.headers) headers[k] = v;
    headers[HOPS_HEADER] = String(hops);
    const traceparent = childTraceparent(input.traceContext?.traceparent ?? undefined);
    const semtrace = [...(input.semtrace ?? []), producer];
    const spectral = out.spectral ?? null;
    // The same fields, in the same order, the node encoded before this moved here: the
    // bytes (and so replay digests) are unchanged.
    const source = encodedOutput({
      topic: out.topic,
      realityId: reality,
      headers,
      contentType: out.contentType,
      payload: out.payload,
      traceContext: { traceparent },
      spectral: out.spectral,
      semtrace,
    });
    const derived = deriveOutput(from, name, index);
    built.push({
      topic: out.topic,
      headers,
      contentType: out.contentType,
      payload: out.payload,
      spectral,
      traceparent,
      semtrace,
      source: source ?? null,
      id: derived.id,
      wallMs: Number(derived.timestamp.wallMs),
      logical: Number(derived.timestamp.logical),
      entropySeed: Number(derived.entropySeed),
    });
  }
  return { hops, outputs: built };
}
