/**
 * Lowers the calling thread's CPU priority (Linux `setpriority` on its own thread id), so an
 * operator's Worker, a thread of the node's process, yields the CPU to the node's event loop
 * whenever both want it: a busy operator then no longer inflates everyone's routing latency
 * (docs/operators.md, "Performance"). Best effort: off Linux, without FFI permission or
 * without libc it does nothing.
 * @module
 */

/** `which` argument of `setpriority`: a process id; on Linux a thread id selects one thread. */
const PRIO_PROCESS = 0;

/**
 * The nice value operator Workers run at. Measured on the 2-core machine, node pinned to one
 * CPU (`deno task bench:operators --quick`, 2026-12-07, quiet): nice 19 halved the operator's
 * max rate (7,533 outputs/s, 129 µs node CPU per output: the Worker waited for every wakeup
 * of the event loop) against nice 10 (12,154/s, 73 µs) and nice 0 (12,355/s, 70 µs), while
 * the isolation figure (plain pub/sub p99 beside a fuel-burning operator) held at 10 (0.81x).
 * Nice 10 keeps the event loop's share ~9:1 when both want the CPU.
 * @default 10
 */
export const WORKER_NICE = 10;

/**
 * Sets the calling thread's nice value to `nice`; returns its thread id on success, `null`
 * when it could not (not Linux, no `--allow-ffi`, no libc.so.6, refused by the kernel).
 *
 * @example
 * ```ts
 * import { lowerThreadPriority } from "./thread_nice.ts";
 * lowerThreadPriority(19); // at the start of a Worker
 * ```
 */
export function lowerThreadPriority(nice: number = WORKER_NICE): number | null {
  if (Deno.build.os !== "linux") return null;
  let lib: Deno.DynamicLibrary<typeof SYMBOLS> | undefined;
  try {
    lib = Deno.dlopen("libc.so.6", SYMBOLS);
    const tid = lib.symbols.gettid();
    const r = lib.symbols.setpriority(PRIO_PROCESS, tid, nice);
    return r === 0 ? tid : null;
  } catch {
    // No FFI permission (or no FFI at all): the Worker runs at the process's priority.
    return null;
  } finally {
    try {
      lib?.close();
    } catch { /* already closed */ }
  }
}

const SYMBOLS = {
  gettid: { parameters: [], result: "i32" },
  setpriority: { parameters: ["i32", "u32", "i32"], result: "i32" },
} as const;
