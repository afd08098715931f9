import assert from "node:assert/strict";
import { ComponentRejectedError } from "./errors.ts";
import { capMemory, encodeU32, readSections, readU32 } from "./wasm_sections.ts";

const HEADER = [0, 0x61, 0x73, 0x6d, 1, 0, 0, 0];

/** A module with one memory section `limits` (flags + LEBs) and an export of it. */
function moduleWithMemory(limits: number[]): Uint8Array {
  const mem = [5, ...encodeU32(limits.length + 1), 1, ...limits];
  const exp = [7, 10, 1, 6, ...new TextEncoder().encode("memory"), 2, 0];
  return new Uint8Array([...HEADER, ...mem, ...exp]);
}

function rejectCode(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof ComponentRejectedError);
    return e.reason;
  }
  assert.fail("expected a rejection");
}

Deno.test("LEB128 round-trips", () => {
  for (const v of [0, 1, 127, 128, 300, 65536, 2 ** 32 - 1]) {
    const bytes = new Uint8Array(encodeU32(v));
    assert.deepEqual(readU32(bytes, 0), [v, bytes.length]);
  }
});

Deno.test("capMemory sets the maximum to the cap and V8 enforces it", () => {
  const { bytes, memory } = capMemory(moduleWithMemory([0, 2]), 4);
  assert.deepEqual(memory, { initial: 2, maximum: 4 });
  const inst = new WebAssembly.Instance(new WebAssembly.Module(bytes as BufferSource));
  const mem = inst.exports.memory as WebAssembly.Memory;
  assert.equal(mem.buffer.byteLength, 2 * 65536);
  mem.grow(2);
  assert.throws(() => mem.grow(1), RangeError);
  // The rest of the module is intact.
  assert.deepEqual(readSections(bytes).map((s) => s.id), [5, 7]);
});

Deno.test("capMemory keeps a declared maximum below the cap", () => {
  const { memory } = capMemory(moduleWithMemory([1, 1, 3]), 100);
  assert.deepEqual(memory, { initial: 1, maximum: 3 });
});

Deno.test("capMemory rejects initial memory over the cap, memory64, shared memory", () => {
  assert.equal(rejectCode(() => capMemory(moduleWithMemory([0, 9]), 8)), "memory_over_cap");
  assert.equal(rejectCode(() => capMemory(moduleWithMemory([4, 1]), 8)), "unsupported_feature");
  assert.equal(rejectCode(() => capMemory(moduleWithMemory([3, 1, 2]), 8)), "unsupported_feature");
  assert.equal(rejectCode(() => capMemory(new Uint8Array(HEADER), 8)), "bad_core_module");
  assert.equal(rejectCode(() => capMemory(new Uint8Array([1, 2, 3]), 8)), "bad_core_module");
});
