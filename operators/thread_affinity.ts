/**
 * CPU affinity of operator Workers (`--operator-cpus`): a node whose event loop is pinned to
 * one CPU (`taskset`) can give its operators' Workers other CPUs, so an operator's sandboxed
 * calls never take the CPU the node routes on, as an external service in its own process
 * would not. Linux only (`sched_setaffinity` on the calling thread); elsewhere, without FFI
 * permission or without libc, a Worker stays where the process runs.
 * @module
 */

/** The highest CPU number a list may name (the kernel's default `cpu_set_t` holds 1024). */
const MAX_CPU = 1023;

/**
 * Parses a CPU list in the kernel's notation (`0`, `0,2`, `1-3`, `0,4-7`) into sorted,
 * distinct CPU numbers. An empty text is an empty list (no pinning).
 *
 * @throws {RangeError} naming what is wrong: a part that is not a number or a range, a range
 * that runs backwards, a CPU above 1023.
 *
 * @example
 * ```ts
 * import { parseCpuList } from "./thread_affinity.ts";
 * parseCpuList("0,2-3"); // [0, 2, 3]
 * ```
 */
export function parseCpuList(text: string): number[] {
  const cpus = new Set<number>();
  const trimmed = text.trim();
  if (trimmed === "") return [];
  for (const part of trimmed.split(",")) {
    const m = /^\s*(\d{1,4})\s*(?:-\s*(\d{1,4})\s*)?$/.exec(part);
    if (m === null) throw new RangeError(`"${part}" is not a CPU number or range (e.g. 0,2-3)`);
    const from = Number(m[1]);
    const to = m[2] === undefined ? from : Number(m[2]);
    if (to < from) throw new RangeError(`the range "${part.trim()}" runs backwards`);
    if (to > MAX_CPU) throw new RangeError(`CPU ${to} is above ${MAX_CPU}`);
    for (let c = from; c <= to; c++) cpus.add(c);
  }
  return [...cpus].sort((a, b) => a - b);
}

/**
 * The CPUs the kernel has online (`/sys/devices/system/cpu/online`), or undefined where that
 * cannot be read (not Linux, no read permission).
 */
export function onlineCpus(): number[] | undefined {
  try {
    return parseCpuList(Deno.readTextFileSync("/sys/devices/system/cpu/online"));
  } catch {
    return undefined;
  }
}

/**
 * Checks `--operator-cpus` once, at the node's start: parsed, and every CPU online.
 *
 * @throws {RangeError} with the flag's name and what is wrong.
 *
 * @example
 * ```ts
 * import { operatorCpusOf } from "./thread_affinity.ts";
 * operatorCpusOf(""); // [] (Workers run where the process runs)
 * ```
 */
export function operatorCpusOf(text: string, online = onlineCpus()): number[] {
  let cpus: number[];
  try {
    cpus = parseCpuList(text);
  } catch (e) {
    throw new RangeError(`--operator-cpus: ${(e as Error).message}`);
  }
  const off = online === undefined ? [] : cpus.filter((c) => !online.includes(c));
  if (off.length > 0) {
    throw new RangeError(
      `--operator-cpus: CPU ${off.join(", ")} is not online (online: ${online!.join(",")})`,
    );
  }
  return cpus;
}

const SYMBOLS = {
  sched_setaffinity: { parameters: ["i32", "usize", "buffer"], result: "i32" },
} as const;

/**
 * Pins the calling thread (a Worker, at its start) to `cpus`; true when the kernel took it.
 * The mask is a `cpu_set_t` of 1024 bits, CPU n at bit n.
 *
 * @example
 * ```ts ignore
 * import { pinThread } from "./thread_affinity.ts";
 * pinThread([0]); // at the start of an operator's Worker
 * ```
 */
export function pinThread(cpus: readonly number[]): boolean {
  if (cpus.length === 0 || Deno.build.os !== "linux") return false;
  let lib: Deno.DynamicLibrary<typeof SYMBOLS>;
  try {
    lib = Deno.dlopen("libc.so.6", SYMBOLS);
  } catch {
    return false;
  }
  try {
    const mask = new Uint8Array((MAX_CPU + 1) / 8);
    for (const c of cpus) mask[c >> 3] |= 1 << (c & 7);
    // pid 0: the calling thread.
    return lib.symbols.sched_setaffinity(0, BigInt(mask.length), mask) === 0;
  } catch {
    return false;
  } finally {
    lib.close();
  }
}
