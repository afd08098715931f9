import assert from "node:assert/strict";
import { readVarint, varint53Length, writeVarint53 } from "./wire_varint.ts";

/** The varint of `n` by BigInt arithmetic: the reference the fast writer must match. */
function reference(n: number): number[] {
  let v = BigInt(n);
  const out: number[] = [];
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
  return out;
}

Deno.test("writeVarint53 writes every width up to 2^53 as the reference does, and reads back", () => {
  const values = [
    0,
    1,
    127,
    128,
    2 ** 32 - 1,
    2 ** 32,
    2 ** 32 + 1,
    1_765_000_000_000,
    2 ** 53 - 1,
  ];
  for (let bits = 1; bits <= 53; bits++) values.push(2 ** bits - 1, 2 ** (bits - 1), 2 ** bits - 2);
  // Entropy seeds and wall times: arbitrary 53-bit values.
  for (let i = 0; i < 2000; i++) values.push(Math.floor(Math.random() * 2 ** 53));
  const buf = new Uint8Array(16);
  for (const n of values) {
    const end = writeVarint53(buf, 3, n);
    assert.deepEqual([...buf.subarray(3, end)], reference(n), `value ${n}`);
    assert.equal(end - 3, varint53Length(n), `length of ${n}`);
    assert.deepEqual(readVarint(buf, 3), [n, end], `read back ${n}`);
  }
});
