/**
 * The Worker's reader of an input pulse's bytes (the producer's encoding followed by the
 * node's stamp, as the node holds them for delivery): only the fields an operator's `handle`
 * and its outputs' derivation use, straight into the objects they need. protobufjs's
 * generated decoder built every field (ids, vector clocks, a `Buffer` per payload) and cost
 * the Worker more than the node saved by not converting the input itself (measured with
 * `bench:operators`: `handle` p50 14 -> 22 µs with protobufjs here).
 *
 * Fields read: topic (3), producer (4), reality (5), timestamp (6), trace context (7),
 * headers (9), content type (10), payload (11), entropy seed (14), semantic trace (18).
 * Skipped: id, sequence, sync id, intent vector, ghost, reply topic, lane, vector clock and
 * unknown fields. Later values win, map entries merge, the semantic trace appends: as
 * protobuf (and so the stamp after the producer's bytes) has it. Anything this reader does
 * not take on (spectral metadata, a varint past 2^53, a malformed field) returns undefined:
 * the caller decodes with protobufjs.
 * @module
 */
import type { arqon } from "../runtime/protocol/mod.ts";

const decoder = new TextDecoder();

/** Past this, numbers would lose bits in a double: protobufjs decides. */
const MAX_EXACT = 2 ** 53;

/**
 * An input pulse read from its bytes, or undefined when protobufjs must decode it.
 *
 * @example
 * ```ts
 * import { encodePulse } from "../runtime/protocol/mod.ts";
 * import { readInput } from "./input_read.ts";
 * readInput(encodePulse({ topic: "a.b", payload: Uint8Array.of(1) }))?.topic; // "a.b"
 * ```
 */
export function readInput(bytes: Uint8Array): arqon.v1.IPulse | undefined {
  return new InputReader(bytes).pulse();
}

class InputReader {
  #p = 0;
  #ok = true;
  constructor(readonly bytes: Uint8Array) {}

  #varint(): number {
    const b = this.bytes;
    let v = 0;
    let scale = 1;
    while (this.#p < b.length) {
      const x = b[this.#p++];
      v += (x & 0x7f) * scale;
      if (x < 0x80) {
        if (v >= MAX_EXACT) this.#ok = false;
        return v;
      }
      scale *= 128;
      if (scale > 2 ** 63) break;
    }
    this.#ok = false;
    return 0;
  }

  /** The end of a length-delimited field starting here (its length read). */
  #end(): number {
    const n = this.#varint();
    const end = this.#p + n;
    if (end > this.bytes.length) {
      this.#ok = false;
      return this.#p;
    }
    return end;
  }

  #str(end: number): string {
    const b = this.bytes;
    const at = this.#p;
    this.#p = end;
    const n = end - at;
    if (n <= 16) {
      let s = "";
      for (let i = at; i < end; i++) {
        if (b[i] >= 0x80) return decoder.decode(b.subarray(at, end));
        s += String.fromCharCode(b[i]);
      }
      return s;
    }
    return decoder.decode(b.subarray(at, end));
  }

  #skip(wire: number): void {
    if (wire === 0) this.#varint();
    else if (wire === 1) this.#p += 8;
    else if (wire === 5) this.#p += 4;
    else if (wire === 2) this.#p = this.#end();
    else this.#ok = false;
    if (this.#p > this.bytes.length) this.#ok = false;
  }

  /** A `map<string, string>` entry ending at `end`: key and value ("" when absent). */
  #entry(end: number): [string, string] {
    let key = "";
    let value = "";
    while (this.#ok && this.#p < end) {
      const tag = this.#varint();
      if (tag === 0x0a) key = this.#str(this.#end());
      else if (tag === 0x12) value = this.#str(this.#end());
      else this.#skip(tag & 7);
    }
    return [key, value];
  }

  pulse(): arqon.v1.IPulse | undefined {
    const pulse: arqon.v1.IPulse = {
      topic: "",
      realityId: "",
      producerId: "",
      headers: {},
      contentType: "",
      payload: new Uint8Array(0),
      entropySeed: 0,
      timestamp: { wallMs: 0, logical: 0 },
      traceContext: {},
      semtrace: [],
    };
    const b = this.bytes;
    while (this.#ok && this.#p < b.length) {
      const tag = this.#varint();
      const field = Math.floor(tag / 8);
      const wire = tag & 7;
      if (wire !== 2 && field !== 14 && field !== 0) {
        this.#skip(wire);
        continue;
      }
      switch (field) {
        case 3:
          pulse.topic = this.#str(this.#end());
          break;
        case 4:
          pulse.producerId = this.#str(this.#end());
          break;
        case 5:
          pulse.realityId = this.#str(this.#end());
          break;
        case 6: {
          const end = this.#end();
          const ts = pulse.timestamp!;
          while (this.#ok && this.#p < end) {
            const t = this.#varint();
            if (t === 0x08) ts.wallMs = this.#varint();
            else if (t === 0x10) ts.logical = this.#varint() >>> 0;
            else this.#skip(t & 7);
          }
          break;
        }
        case 7: {
          const [k, v] = this.#entry(this.#end());
          pulse.traceContext![k] = v;
          break;
        }
        case 9: {
          const [k, v] = this.#entry(this.#end());
          pulse.headers![k] = v;
          break;
        }
        case 10:
          pulse.contentType = this.#str(this.#end());
          break;
        case 11: {
          const end = this.#end();
          pulse.payload = b.subarray(this.#p, end);
          this.#p = end;
          break;
        }
        case 14:
          if (wire !== 0) return undefined;
          pulse.entropySeed = this.#varint();
          break;
        case 18:
          pulse.semtrace!.push(this.#str(this.#end()));
          break;
        case 8:
          // Spectral metadata: rare, and protobufjs's reading of it is the reference.
          return undefined;
        case 0:
          return undefined;
        default:
          this.#skip(wire);
      }
    }
    return this.#ok && this.#p === b.length ? pulse : undefined;
  }
}
