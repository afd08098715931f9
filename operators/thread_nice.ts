/**
 * Lowers the calling thread's CPU priority (Linux `setpriority` on its own thread id), so an
 * operator's Worker whose pulses are expensive, a thread of the node's process, yields the
 * CPU to the node's event loop whenever both want it: a busy operator then no longer
 * inflates everyone's routing latency, while a cheap one keeps the node's priority and does
 * not starve on a busy machine (docs/operators.md, "Performance"). Best effort: off Linux,
 * without FFI permission or without libc it does nothing.
 * @module
 */

/** `which` argument of `setpriority`: a process id; on Linux a thread id selects one thread. */
const PRIO_PROCESS = 0;

/**
 * The nice value of an operator Worker whose pulses are expensive (see {@linkcode niceFor}).
 * Measured on the 2-core machine, node pinned to one CPU (`deno task bench:operators --quick`,
 * 2026-12-07, quiet): nice 19 halved the operator's max rate (7,533 outputs/s, 129 µs node
 * CPU per output: the Worker waited for every wakeup of the event loop) against nice 10
 * (12,154/s, 73 µs) and nice 0 (12,355/s, 70 µs), while the isolation figure (plain pub/sub
 * p99 beside a fuel-burning operator) held at 10 (0.81x). Nice 10 keeps the event loop's
 * share ~9:1 when both want the CPU.
 * @default 10
 */
export const WORKER_NICE = 10;

/**
 * Fuel per pulse up to which an operator keeps the node's priority (nice 0): ~20 µs of
 * `handle`, the cost of routing a pulse or two.
 * @default 200_000
 */
export const CHEAP_FUEL = 200_000;

/**
 * The nice value for an operator that uses `fuelPerPulse` on average: 0 up to
 * {@linkcode CHEAP_FUEL}, then one step per factor 10^(1/10) more, up to
 * {@linkcode WORKER_NICE} at 10x that (2M fuel, ~0.2 ms a pulse). A cheap operator costs
 * the node what routing its traffic costs, and at a lower priority it starves whenever the
 * machine is busy (measured: docs/operators.md, "Performance"); an expensive one is what
 * could take the event loop's CPU, so it yields.
 *
 * @example
 * ```ts
 * import { niceFor } from "./thread_nice.ts";
 * niceFor(50_000); // 0
 * niceFor(9_000_000); // 10
 * ```
 */
export function niceFor(fuelPerPulse: number): number {
  if (!(fuelPerPulse > CHEAP_FUEL)) return 0;
  const steps = Math.round(10 * Math.log10(fuelPerPulse / CHEAP_FUEL));
  return Math.min(WORKER_NICE, Math.max(0, steps));
}

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
  const lib = openLibc();
  if (!lib) return null;
  try {
    const tid = lib.symbols.gettid();
    return lib.symbols.setpriority(PRIO_PROCESS, tid, nice) === 0 ? tid : null;
  } catch {
    return null;
  } finally {
    closeLibc(lib);
  }
}

/**
 * The priority of the calling thread (an operator's Worker), following the fuel its pulses
 * use: {@linkcode ThreadPriority.observe} after each batch moves it to
 * {@linkcode niceFor} of a running average, calling the kernel only when the value changes.
 * Starts at the node's priority. Raising it again (a lower nice) needs `CAP_SYS_NICE` or an
 * `RLIMIT_NICE`; without them the thread stays at the highest nice it reached.
 *
 * @example
 * ```ts
 * import { ThreadPriority } from "./thread_nice.ts";
 * const priority = new ThreadPriority();
 * priority.observe(64 * 9_000_000, 64); // a batch of expensive pulses: nice 10
 * ```
 */
export class ThreadPriority {
  #lib: Deno.DynamicLibrary<typeof SYMBOLS> | null | undefined;
  #tid = 0;
  #nice = 0;
  /** Average fuel per pulse (exponentially weighted per batch; -1: none yet). */
  #average = -1;

  /** The nice value the thread runs at (as far as this object set it). */
  get nice(): number {
    return this.#nice;
  }

  /** A batch of `pulses` used `fuel` in all: adjusts the nice value when it changes. */
  observe(fuel: number, pulses: number): void {
    if (pulses <= 0) return;
    const perPulse = fuel / pulses;
    this.#average = this.#average < 0 ? perPulse : (this.#average + perPulse) / 2;
    const nice = niceFor(this.#average);
    if (nice !== this.#nice) this.#set(nice);
  }

  #set(nice: number): void {
    if (this.#lib === undefined) {
      // Opened once per thread, kept open: `observe` runs after every batch.
      this.#lib = openLibc();
      if (this.#lib) {
        try {
          this.#tid = this.#lib.symbols.gettid();
        } catch {
          this.#lib = null;
        }
      }
    }
    if (!this.#lib) return;
    try {
      if (this.#lib.symbols.setpriority(PRIO_PROCESS, this.#tid, nice) === 0) this.#nice = nice;
    } catch { /* refused: stays where it is */ }
  }
}

function openLibc(): Deno.DynamicLibrary<typeof SYMBOLS> | null {
  if (Deno.build.os !== "linux") return null;
  try {
    return Deno.dlopen("libc.so.6", SYMBOLS);
  } catch {
    // No FFI permission (or no FFI at all): the Worker runs at the process's priority.
    return null;
  }
}

function closeLibc(lib: Deno.DynamicLibrary<typeof SYMBOLS>): void {
  try {
    lib.close();
  } catch { /* already closed */ }
}

const SYMBOLS = {
  gettid: { parameters: [], result: "i32" },
  setpriority: { parameters: ["i32", "u32", "i32"], result: "i32" },
} as const;
