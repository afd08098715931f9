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
import type { OperatorPulse } from "./world.ts";

/** One output, ready to publish. */
export interface BuiltOutput {
  /**
   * The pulse: topic, headers (the guest's plus the hop count), content type, payload,
   * trace context (the input's trace id, a new span id), spectral metadata, semantic trace
   * (the input's, then this operator; the Spine adds the topic), and the id, time and
   * entropy seed derived from the input (docs/time.md). `realityId` is the node's to set.
   */
  readonly pulse: arqon.v1.IPulse;
  /**
   * The `Pulse` encoding without id, time and seed (the node's stamp carries those); null
   * when the hand encoder does not write one of its fields (the Spine encodes it then).
   */
  readonly source: Uint8Array | null;
  /** Where the payload lies in `source` (its first byte; -1: not in it, or no source). */
  readonly payloadAt: number;
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
    const pulse: arqon.v1.IPulse = {
      topic: out.topic,
      realityId: reality,
      headers,
      contentType: out.contentType,
      payload: out.payload,
      traceContext: { traceparent },
      spectral: out.spectral,
      semtrace,
    };
    // The same fields, in the same order, the node encoded before this moved here: the
    // bytes (and so replay digests) are unchanged. The id, time and seed derived from the
    // input are set after: the node's stamp carries them.
    const source = encodedOutput(pulse);
    pulse.spectral ??= null;
    Object.assign(pulse, deriveOutput(from, name, index));
    built.push({
      pulse,
      source: source ?? null,
      payloadAt: source ? payloadOffset(source, out.payload.length) : -1,
    });
  }
  return { hops, outputs: built };
}

/** `Pulse.payload`'s field number. */
const PAYLOAD_FIELD = 11;

/**
 * The offset of the payload's bytes in a `Pulse` encoding (a top-level walk of its fields):
 * the node keeps one copy of an output, its encoding, with the payload a view into it.
 * -1 when absent or of another length (the node then copies the payload apart).
 */
export function payloadOffset(encoded: Uint8Array, length: number): number {
  let p = 0;
  while (p < encoded.length) {
    let tag = 0;
    let shift = 0;
    let b: number;
    do {
      b = encoded[p++];
      tag += (b & 0x7f) * 2 ** shift;
      shift += 7;
    } while (b & 0x80 && p < encoded.length);
    const wire = tag & 7;
    if (wire === 0) {
      while (encoded[p++] & 0x80 && p < encoded.length);
      continue;
    }
    if (wire === 1) p += 8;
    else if (wire === 5) p += 4;
    else if (wire === 2) {
      let len = 0;
      shift = 0;
      do {
        b = encoded[p++];
        len += (b & 0x7f) * 2 ** shift;
        shift += 7;
      } while (b & 0x80 && p < encoded.length);
      if (Math.floor(tag / 8) === PAYLOAD_FIELD) return len === length ? p : -1;
      p += len;
    } else return -1;
  }
  return length === 0 ? 0 : -1;
}
