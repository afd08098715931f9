/**
 * Keeps glibc's allocator from handing the node's batch buffers back to the kernel after
 * every use. Outbound batches are fresh typed arrays of up to `--max-batch-bytes` (256 KiB);
 * with glibc's defaults a block that large is `mmap`ed, its pages fault in when written and
 * are `munmap`ed when it is freed, and freeing 128 KiB at the top of the heap trims it. Whether
 * the allocator's dynamic threshold has adapted depends on the process's allocation history,
 * so the same code ran in two modes: measured with `bench/node_micro.ts` (1 KB pulses,
 * 2026-12-06), 1.8 µs and 33,000 page faults per run, or 4–5 µs and 130,000–190,000 faults.
 * Fixed thresholds (4 MiB mmap, 32 MiB trim) keep it in the first: freed batch memory is
 * reused from the heap, and at most 32 MiB of free heap is held before it is returned.
 * @module
 */

/** `mallopt` parameters (glibc's malloc.h). */
const M_TRIM_THRESHOLD = -1;
const M_MMAP_THRESHOLD = -3;

/**
 * Blocks at least this large are mapped on their own; smaller ones come from the heap.
 * @default {4194304}
 */
export const MMAP_THRESHOLD_BYTES = 4 * 1024 * 1024;
/**
 * Free memory at the top of the heap above this is returned to the kernel.
 * @default {33554432}
 */
export const TRIM_THRESHOLD_BYTES = 32 * 1024 * 1024;

/** What {@linkcode tuneAllocator} did. */
export interface AllocatorTuning {
  /** True when both thresholds were set. */
  readonly tuned: boolean;
  /** Why not, when `tuned` is false (not glibc, no `--allow-ffi`, set by the environment). */
  readonly problem?: string;
}

/**
 * Sets glibc's mmap and trim thresholds for the node's process (once, at start). Leaves them
 * alone when the environment already chose (`MALLOC_MMAP_THRESHOLD_`, `MALLOC_TRIM_THRESHOLD_`),
 * off Linux, or without FFI; never throws.
 *
 * @example
 * ```ts
 * import { tuneAllocator } from "./allocator.ts";
 *
 * const tuning = tuneAllocator();
 * if (!tuning.tuned) console.log(`allocator left as it is: ${tuning.problem}`);
 * ```
 */
export function tuneAllocator(): AllocatorTuning {
  if (Deno.build.os !== "linux") return { tuned: false, problem: `not on Linux` };
  try {
    if (Deno.env.get("MALLOC_MMAP_THRESHOLD_") || Deno.env.get("MALLOC_TRIM_THRESHOLD_")) {
      return { tuned: false, problem: "set by the environment" };
    }
  } catch {
    // No env permission: nothing chose for us.
  }
  let lib;
  try {
    lib = Deno.dlopen("libc.so.6", { mallopt: { parameters: ["i32", "i32"], result: "i32" } });
  } catch (err) {
    return { tuned: false, problem: `cannot load libc.so.6 (${(err as Error).message})` };
  }
  try {
    // mallopt returns 1 on success, 0 on error (musl has no mallopt: dlopen failed above).
    const ok = lib.symbols.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES) === 1 &&
      lib.symbols.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES) === 1;
    return ok ? { tuned: true } : { tuned: false, problem: "mallopt refused" };
  } finally {
    lib.close();
  }
}
