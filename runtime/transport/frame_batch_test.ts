import assert from "node:assert/strict";
import { forEachFrame, PackedBatch } from "./frame_batch.ts";

function frame(i: number, len: number): Uint8Array {
  return Uint8Array.from({ length: len }, (_, k) => (i + k) & 0xff);
}

Deno.test("PackedBatch packs frames that forEachFrame reads back in order", () => {
  const b = new PackedBatch(1024);
  const sent = Array.from({ length: 20 }, (_, i) => frame(i, i * 3));
  for (const f of sent) assert.deepStrictEqual(b.add(f), true);
  const got: Uint8Array[] = [];
  const bytes = b.bytes();
  assert.deepStrictEqual(forEachFrame(bytes, bytes.length, (f) => got.push(f.slice())), 20);
  assert.deepStrictEqual(got, sent);
});

Deno.test("PackedBatch.consume counts whole frames and compacts to make room", () => {
  const b = new PackedBatch(100);
  assert.deepStrictEqual(b.add(frame(1, 40)), true);
  assert.deepStrictEqual(b.add(frame(2, 40)), true);
  assert.deepStrictEqual(b.add(frame(3, 40)), false, "third frame exceeds 100 bytes");
  assert.deepStrictEqual(b.consume(44), 1);
  assert.deepStrictEqual(b.add(frame(3, 40)), true, "compaction frees the consumed prefix");
  const got: Uint8Array[] = [];
  const bytes = b.bytes();
  forEachFrame(bytes, bytes.length, (f) => got.push(f.slice()));
  assert.deepStrictEqual(got, [frame(2, 40), frame(3, 40)]);
  assert.deepStrictEqual(b.consume(b.length), 2);
  assert.deepStrictEqual(b.length, 0);
});
