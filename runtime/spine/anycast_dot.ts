/**
 * The dot product of anycast's float32 vectors in WebAssembly SIMD, over vectors kept in a
 * Wasm memory (a `VectorIndex`'s flat store and its query): four products at a time
 * (`f32x4.mul`), summed in float64 pairs, the last `n % 4` one by one. The float32
 * rescoring of the graph's hits and the exact scan below `exactMax` are this product; in
 * JavaScript it cost ~1.2 ns a multiply-add on an idle core of this machine (~460 ns a
 * vector of 384), here ~70-100 ns under load, so a hit's cost is the fetch of its row.
 * Each product of two float32 is rounded to float32 before the float64 sum (JavaScript
 * multiplied in float64): scores differ from the JavaScript ones by ~1e-8, and every score
 * of the bus comes from this one kernel, so equal vectors still score equal.
 * @module
 */

/**
 * The module in the text format: `dot(a, b, n)` is the dot product of the `n` float32 at
 * byte offsets `a` and `b` of the imported memory. `DOT_WASM` is its binary, assembled by
 * binaryen (the test assembles this text again and compares).
 */
export const DOT_WAT = `(module
  (import "env" "memory" (memory 1))
  (func (export "dot") (param $a i32) (param $b i32) (param $n i32) (result f64)
    (local $i i32) (local $end i32) (local $p v128) (local $lo v128) (local $hi v128) (local $s f64)
    (local.set $end (i32.shl (i32.and (local.get $n) (i32.const -4)) (i32.const 2)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $end)))
        (local.set $p (f32x4.mul
          (v128.load align=4 (i32.add (local.get $a) (local.get $i)))
          (v128.load align=4 (i32.add (local.get $b) (local.get $i)))))
        (local.set $lo (f64x2.add (local.get $lo) (f64x2.promote_low_f32x4 (local.get $p))))
        (local.set $hi (f64x2.add (local.get $hi) (f64x2.promote_low_f32x4
          (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $p) (local.get $p)))))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $next)))
    (local.set $lo (f64x2.add (local.get $lo) (local.get $hi)))
    (local.set $s (f64.add (f64x2.extract_lane 0 (local.get $lo)) (f64x2.extract_lane 1 (local.get $lo))))
    (local.set $end (i32.shl (local.get $n) (i32.const 2)))
    (block $tail
      (loop $more
        (br_if $tail (i32.ge_u (local.get $i) (local.get $end)))
        (local.set $s (f64.add (local.get $s) (f64.promote_f32 (f32.mul
          (f32.load (i32.add (local.get $a) (local.get $i)))
          (f32.load (i32.add (local.get $b) (local.get $i)))))))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $more)))
    (local.get $s)))`;

/** `DOT_WAT` assembled (hex). */
const DOT_HEX =
  "0061736d0100000001080160037f7f7f017c020f0103656e76066d656d6f72790200010302010007070103646f740000" +
  "0aba0101b70103027f037b017c2002417c71410274210402400340200320044f0d01200020036afd000200200120036a" +
  "fd000200fde601210520062005fd5ffdf0012106200720052005fd0d08090a0b0c0d0e0f08090a0b0c0d0e0ffd5ffdf0" +
  "012107200341106a21030c000b000b20062007fdf00121062006fd21002006fd2101a021082002410274210402400340" +
  "200320044f0d012008200020036a2a0200200120036a2a020094bba02108200341046a21030c000b000b20080b";

/** The binary of `DOT_WAT`. */
export const DOT_WASM: Uint8Array<ArrayBuffer> = Uint8Array.from(
  DOT_HEX.match(/../g)!,
  (b) => parseInt(b, 16),
);

/** `dot(a, b, n)`: the dot product of `n` float32 at byte offsets `a` and `b`. */
export type Dot = (a: number, b: number, n: number) => number;

let compiled: WebAssembly.Module | undefined;

/**
 * The kernel over `memory` (one instance per memory; the module, 237 bytes, is compiled
 * once, synchronously).
 */
export function dotKernel(memory: WebAssembly.Memory): Dot {
  compiled ??= new WebAssembly.Module(DOT_WASM);
  const instance = new WebAssembly.Instance(compiled, { env: { memory } });
  return instance.exports.dot as Dot;
}
