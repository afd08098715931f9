import assert from "node:assert/strict";
import binaryen from "binaryen";
import { DOT_WASM, DOT_WAT, dotKernel } from "./anycast_dot.ts";
import { VectorIndex } from "./anycast_index.ts";

Deno.test("anycast dot: the embedded binary is the text assembled", () => {
  const mod = binaryen.parseText(DOT_WAT);
  try {
    mod.setFeatures(binaryen.Features.SIMD128);
    assert.ok(mod.validate(), "the text validates");
    assert.deepEqual(mod.emitBinary(), DOT_WASM);
  } finally {
    mod.dispose();
  }
});

Deno.test("anycast dot: SIMD product of every length agrees with float64 (tails included)", () => {
  const memory = new WebAssembly.Memory({ initial: 1 });
  const dot = dotKernel(memory);
  const f32 = new Float32Array(memory.buffer);
  let seed = 7;
  const next = () => (seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32 - 0.5;
  for (const n of [1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 383, 384, 385, 4096]) {
    // At byte offsets 0 and 16 KiB + 4 (unaligned: loads take any alignment).
    const b = 4097;
    let want = 0;
    for (let i = 0; i < n; i++) {
      f32[i] = next();
      f32[b + i] = next();
      want += f32[i] * f32[b + i];
    }
    const got = dot(0, b * 4, n);
    assert.ok(
      Math.abs(got - want) <= 1e-6 * Math.max(1, Math.abs(want)),
      `n ${n}: ${got} vs ${want}`,
    );
  }
  assert.equal(dot(0, 0, 0), 0);
});

Deno.test("vector index: rows survive the store's growth; scores are cosines of the rows", () => {
  const dim = 7;
  const index = new VectorIndex(dim, { exactMax: Infinity });
  const rows: Float32Array[] = [];
  let seed = 3;
  const next = () => (seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32 - 0.5;
  // Past several doublings of the store (16 rows at first) and of its Wasm memory.
  for (let i = 0; i < 20_000; i++) {
    const v = Float32Array.from({ length: dim }, next);
    const norm = Math.hypot(...v);
    const unit = v.map((x) => x / norm);
    rows.push(unit);
    assert.equal(index.add(unit), i);
  }
  const query = rows[12_345];
  for (const slot of [0, 1, 15, 16, 4095, 12_345, 19_999]) {
    let want = 0;
    for (let i = 0; i < dim; i++) want += query[i] * rows[slot][i];
    assert.ok(Math.abs(index.score(query, slot) - want) < 1e-6, `slot ${slot}`);
  }
  assert.ok(Math.abs(index.score(query, 12_345) - 1) < 1e-6);
});
