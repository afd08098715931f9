import assert from "node:assert/strict";
import { xorMask } from "./frame.ts";

/** RFC 6455 §5.3 byte by byte: byte i is XORed with key byte i mod 4. */
function reference(body: Uint8Array, keyBytes: Uint8Array): Uint8Array {
  return body.map((b, i) => b ^ keyBytes[i & 3]);
}

Deno.test("xorMask matches the byte-wise definition at every alignment and length", () => {
  // The second key has its top bit set (a negative 32-bit number once rotated).
  for (const keyBytes of [Uint8Array.of(0x37, 0xfa, 0x21, 0x3d), Uint8Array.of(1, 2, 3, 0xf1)]) {
    const key = new DataView(keyBytes.buffer).getUint32(0, true);
    masksLikeReference(keyBytes, key);
  }
});

function masksLikeReference(keyBytes: Uint8Array, key: number): void {
  const backing = new Uint8Array(120);
  for (let offset = 0; offset < 16; offset++) {
    for (const length of [0, 1, 2, 3, 4, 5, 7, 8, 9, 13, 15, 16, 17, 31, 64, 100]) {
      for (let i = 0; i < backing.length; i++) backing[i] = (i * 29 + offset) & 0xff;
      const body = backing.subarray(offset, offset + length);
      const expected = reference(body, keyBytes);
      const before = backing.slice();
      xorMask(body, key);
      assert.deepEqual(body, expected, `offset ${offset}, length ${length}`);
      // Nothing outside the body changed.
      assert.deepEqual(backing.subarray(0, offset), before.subarray(0, offset));
      assert.deepEqual(backing.subarray(offset + length), before.subarray(offset + length));
    }
  }
}
