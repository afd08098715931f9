/**
 * The open-file limit of the node's process. Every client connection holds at least one
 * descriptor, so the soft `RLIMIT_NOFILE` caps how many clients a node can hold; most
 * systems start processes at a soft limit of 1024 under a much higher hard limit. Deno
 * has no `setrlimit`, so this reaches libc through FFI (`getrlimit`/`setrlimit`); without
 * `--allow-ffi` or off Linux/macOS the limit stays as it is and the reason is reported.
 * @module
 */

/** The process's open-file limits after {@linkcode raiseOpenFileLimit}. */
export interface OpenFileLimit {
  /** The soft limit in force (what `accept` runs into). */
  readonly soft: number;
  /** The hard limit (the most an unprivileged process may raise the soft one to). */
  readonly hard: number;
  /** The soft limit before the call. */
  readonly before: number;
  /** Why the limit could not be read or raised; undefined when it worked. */
  readonly problem?: string;
}

/** Assumed when the limit cannot be read: the common default soft limit. */
export const FALLBACK_OPEN_FILES = 1024;

/** `RLIMIT_NOFILE` by platform (Linux: 7; macOS and the BSDs: 8). */
const RLIMIT_NOFILE: Partial<Record<typeof Deno.build.os, number>> = {
  linux: 7,
  darwin: 8,
  freebsd: 8,
};

const LIBC: Partial<Record<typeof Deno.build.os, string>> = {
  linux: "libc.so.6",
  darwin: "libSystem.dylib",
  freebsd: "libc.so.7",
};

/** Values above this are "unlimited" (RLIM_INFINITY) for our purposes. */
const UNLIMITED = 1n << 40n;

/**
 * Raises the soft open-file limit to the hard one (on macOS at most `OPEN_MAX`, 10240)
 * and reports both. Never throws: a failure leaves the limit as it was and says why.
 *
 * @example
 * ```ts
 * import { raiseOpenFileLimit } from "./rlimit.ts";
 *
 * const limit = raiseOpenFileLimit();
 * console.log(`open files: ${limit.soft} (hard ${limit.hard})`, limit.problem ?? "");
 * ```
 */
export function raiseOpenFileLimit(): OpenFileLimit {
  const resource = RLIMIT_NOFILE[Deno.build.os];
  const path = LIBC[Deno.build.os];
  if (resource === undefined || !path) {
    return unknown(`no open-file limit support on ${Deno.build.os}`);
  }
  let lib;
  try {
    lib = Deno.dlopen(path, {
      getrlimit: { parameters: ["i32", "buffer"], result: "i32" },
      setrlimit: { parameters: ["i32", "buffer"], result: "i32" },
    });
  } catch (err) {
    return unknown(`cannot load ${path} (${(err as Error).message}); run with --allow-ffi`);
  }
  try {
    // struct rlimit { rlim_t rlim_cur; rlim_t rlim_max; }: two 64-bit words on 64-bit hosts.
    const limits = new BigUint64Array(2);
    const bytes = new Uint8Array(limits.buffer);
    if (lib.symbols.getrlimit(resource, bytes) !== 0) return unknown("getrlimit failed");
    const before = asNumber(limits[0]);
    let target = limits[1];
    if (Deno.build.os === "darwin" && target > 10240n) target = 10240n;
    if (limits[0] >= target) return { soft: before, hard: asNumber(limits[1]), before };
    const hard = limits[1];
    limits[0] = target;
    if (lib.symbols.setrlimit(resource, bytes) !== 0) {
      return {
        soft: before,
        hard: asNumber(hard),
        before,
        problem: "setrlimit refused to raise the soft limit",
      };
    }
    limits.fill(0n);
    lib.symbols.getrlimit(resource, bytes);
    return { soft: asNumber(limits[0]), hard: asNumber(limits[1]), before };
  } finally {
    lib.close();
  }
}

function asNumber(value: bigint): number {
  return value >= UNLIMITED ? Number.MAX_SAFE_INTEGER : Number(value);
}

function unknown(problem: string): OpenFileLimit {
  return {
    soft: FALLBACK_OPEN_FILES,
    hard: FALLBACK_OPEN_FILES,
    before: FALLBACK_OPEN_FILES,
    problem,
  };
}

/**
 * Descriptors kept out of the connection budget: the store (database, WAL, shared
 * memory, audit log), the listeners, policy modules, DNS and the runtime's own.
 */
export const RESERVED_OPEN_FILES = 256;

/**
 * Descriptors the node may spend on client connections under a soft limit of `soft`:
 * everything but a reserve of 256 or 5 %, whichever is larger.
 */
export function connectionBudget(soft: number): number {
  const reserve = Math.max(RESERVED_OPEN_FILES, Math.ceil(soft * 0.05));
  return Math.max(16, soft - reserve);
}
