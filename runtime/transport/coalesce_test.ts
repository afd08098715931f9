import assert from "node:assert/strict";
import { takeCoalesced, WRITE_ALONE_BYTES } from "./coalesce.ts";

const filled = (n: number, byte: number) => new Uint8Array(n).fill(byte);

Deno.test("coalesce: small frames are joined in order up to the byte bound", () => {
  const queue = [filled(3, 1), filled(4, 2), filled(10, 3)];
  const { chunk, count } = takeCoalesced(queue, 8);
  assert.equal(count, 2);
  assert.deepEqual([...chunk], [1, 1, 1, 2, 2, 2, 2]);
  assert.equal(queue.length, 1);
});

Deno.test("coalesce: a large frame is written alone, as the same bytes, never copied", () => {
  const big = filled(WRITE_ALONE_BYTES, 7);
  const queue = [big, filled(5, 1)];
  const { chunk, count } = takeCoalesced(queue, 1024 * 1024);
  assert.equal(count, 1);
  assert.equal(chunk, big, "the queued array itself, not a copy");
  assert.equal(queue.length, 1);
});

Deno.test("coalesce: small frames stop before a large one, which comes next alone", () => {
  const big = filled(WRITE_ALONE_BYTES + 1, 9);
  const queue = [filled(2, 1), filled(2, 2), big, filled(2, 3)];
  const first = takeCoalesced(queue, 1024 * 1024);
  assert.equal(first.count, 2);
  assert.deepEqual([...first.chunk], [1, 1, 2, 2]);
  const second = takeCoalesced(queue, 1024 * 1024);
  assert.equal(second.chunk, big);
  const third = takeCoalesced(queue, 1024 * 1024);
  assert.deepEqual([...third.chunk], [3, 3]);
  assert.equal(queue.length, 0);
  assert.equal(takeCoalesced(queue, 8).count, 0);
});
