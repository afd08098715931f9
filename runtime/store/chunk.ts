/**
 * The unit of storage: the pulses of one reality that match one retention rule and were
 * committed in the same group commit, stored as one row. A row per pulse measured only
 * ~40k rows/s from Deno; a row per batch makes writes and history reads run at memcpy speed.
 *
 * `meta` is a Float64Array of `(sequence, wall_ms, byte_length)` per pulse; `data` is the
 * pulses' protobuf encodings back to back.
 * @module
 */
const META_FIELDS = 3;

/** Collects the pulses of one (reality, rule) in one batch. */
export class ChunkBuilder {
  /** Rule id the chunk belongs to. */
  readonly ruleId: number;
  #parts: Uint8Array[] = [];
  #meta: number[] = [];
  /** Pulses added. */
  count = 0;
  /** Encoded bytes added. */
  bytes = 0;
  /** First and last sequence / wall time added. */
  firstSeq = 0;
  lastSeq = 0;
  firstWall = 0;
  lastWall = 0;

  /** Starts a chunk for `ruleId`. */
  constructor(ruleId: number) {
    this.ruleId = ruleId;
  }

  /**
   * Adds one encoded pulse, given whole or as two parts that concatenate to it (the
   * producer's bytes and the node's stamp, copied once into the chunk); pulses arrive in
   * sequence order.
   */
  add(bytes: Uint8Array, sequence: number, wallMs: number, tail?: Uint8Array | null): number {
    const size = bytes.length + (tail ? tail.length : 0);
    this.#parts.push(bytes);
    if (tail) this.#parts.push(tail);
    this.#meta.push(sequence, wallMs, size);
    if (this.count === 0) {
      this.firstSeq = sequence;
      this.firstWall = wallMs;
    }
    this.lastSeq = sequence;
    this.lastWall = wallMs;
    this.count++;
    this.bytes += size;
    return size;
  }

  /** The row payloads: meta as bytes and the concatenated pulses. */
  finish(): { meta: Uint8Array; data: Uint8Array } {
    const meta = new Float64Array(this.#meta);
    return {
      meta: new Uint8Array(meta.buffer, meta.byteOffset, meta.byteLength),
      data: concat(this.#parts, this.bytes),
    };
  }
}

/** Reads a chunk's meta column into a Float64Array (copying when unaligned). */
export function chunkMeta(meta: Uint8Array): Float64Array {
  if (meta.byteOffset % 8 === 0) {
    return new Float64Array(meta.buffer, meta.byteOffset, meta.byteLength / 8);
  }
  return new Float64Array(meta.slice().buffer);
}

/** Number of pulses described by a meta array. */
export function metaCount(meta: Float64Array): number {
  return meta.length / META_FIELDS;
}

/** Sequence, wall time and size of the i-th pulse of a chunk. */
export function metaEntry(meta: Float64Array, i: number): [number, number, number] {
  const at = i * META_FIELDS;
  return [meta[at], meta[at + 1], meta[at + 2]];
}

function concat(parts: readonly Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}
