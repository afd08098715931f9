/**
 * The hand-written reader of `Publish.anycast` (`AnycastTarget{vector, k}`) for the frame
 * scanner (`wire_scan.ts`). protobufjs reads a packed float field one float at a time
 * into a JavaScript array (384 calls and pushes for a common embedding, about 13x the
 * decode of a plain publish); here the floats are copied in one block into a
 * `Float32Array` straight from the received bytes (packed, as proto3 encoders write
 * them), or read in one loop when unpacked (protobufjs's own encoder, hence our SDK, writes
 * each float with its tag). A copy, not a view: the received bytes are valid only during
 * the scanner's call, and a publish may wait behind an earlier one's policy. Anything
 * unusual (floats split in several runs, unknown fields, a big-endian host) returns null
 * and the frame is decoded whole by protobufjs.
 * @module
 */
import { readVarint, WIRE_LEN, WIRE_VARINT } from "./wire_varint.ts";

// Wire type of fixed 32-bit fields (float).
const WIRE_I32 = 5;

/** An anycast target read from the wire: the float32 components as sent, and `k`. */
export interface WireAnycastTarget {
  /** `AnycastTarget.vector`, as float32 components. */
  readonly vector: Float32Array;
  /** `AnycastTarget.k` (0 when absent). */
  readonly k: number;
}

// Float32Array reads in the host's byte order; protobuf's fixed-size fields are little-endian.
const LITTLE_ENDIAN = new Uint8Array(new Float32Array([1]).buffer)[3] === 0x3f;

const EMPTY = new Float32Array(0);

/**
 * Reads the `AnycastTarget` in `b[start, end)`, or null when it is anything but one run
 * of `vector` (packed, or unpacked floats one after another) and at most one `k` (then
 * protobufjs decodes the frame).
 *
 * @example
 * ```ts
 * import { readAnycastTarget } from "./wire_anycast.ts";
 *
 * // vector [1, 0] (packed: field 1, 8 bytes), k 2
 * const b = new Uint8Array([0x0a, 8, 0, 0, 0x80, 0x3f, 0, 0, 0, 0, 0x10, 2]);
 * readAnycastTarget(b, 0, b.length); // { vector: Float32Array [1, 0], k: 2 }
 * ```
 */
export function readAnycastTarget(
  b: Uint8Array,
  start: number,
  end: number,
): WireAnycastTarget | null {
  if (!LITTLE_ENDIAN) return null;
  let pos = start;
  let vector: Float32Array | null = null;
  let k = -1;
  while (pos < end) {
    const [key, p1] = readVarint(b, pos);
    if (p1 < 0 || p1 > end) return null;
    if (key === ((1 << 3) | WIRE_LEN) && vector === null) {
      const [len, p2] = readVarint(b, p1);
      if (p2 < 0 || len % 4 !== 0 || p2 + len > end) return null;
      const at = b.byteOffset + p2;
      vector = new Float32Array(b.buffer.slice(at, at + len));
      pos = p2 + len;
    } else if (key === ((1 << 3) | WIRE_I32) && vector === null) {
      // Unpacked: each float after its own one-byte tag.
      let n = 1;
      while (pos + 5 * (n + 1) <= end && b[pos + 5 * n] === key) n++;
      if (pos + 5 * n > end) return null;
      vector = new Float32Array(n);
      const view = new DataView(b.buffer, b.byteOffset);
      for (let i = 0; i < n; i++) vector[i] = view.getFloat32(pos + 5 * i + 1, true);
      pos += 5 * n;
    } else if (key === ((2 << 3) | WIRE_VARINT) && k < 0) {
      const [v, p2] = readVarint(b, p1);
      // protobufjs keeps the low 32 bits of a longer varint: leave that to it.
      if (p2 < 0 || p2 > end || v > 0xffffffff) return null;
      k = v;
      pos = p2;
    } else return null;
  }
  return { vector: vector ?? EMPTY, k: k < 0 ? 0 : k };
}
