/**
 * Loads the core native library (`libarqon_native.so`) with `Deno.dlopen`, once per
 * process. Symbols take u32 lengths and pointers only (BigInt-free, ~15 ns per call); the
 * two `*_wait_async` aliases are the only `nonblocking` calls and serve the idle path.
 * @module
 */

const here = new URL(".", import.meta.url);

/** The core library's symbols as declared to `Deno.dlopen`. */
export const NATIVE_SYMBOLS = {
  arqon_abi_version: { parameters: [], result: "u32" },
  arqon_last_error: { parameters: ["buffer", "u32"], result: "u32" },
  arqon_shm_listen: { parameters: ["buffer", "u32", "u32"], result: "pointer" },
  arqon_shm_accept: { parameters: ["pointer"], result: "pointer" },
  arqon_shm_listener_wait: { parameters: ["pointer", "u32", "u32"], result: "i32" },
  arqon_shm_listener_wait_async: {
    name: "arqon_shm_listener_wait",
    parameters: ["pointer", "u32", "u32"],
    result: "i32",
    nonblocking: true,
  },
  arqon_shm_listener_close: { parameters: ["pointer"], result: "void" },
  arqon_shm_connect: { parameters: ["buffer"], result: "pointer" },
  arqon_shm_send: { parameters: ["pointer", "buffer", "u32"], result: "i32" },
  arqon_shm_recv: { parameters: ["pointer", "buffer", "u32"], result: "i32" },
  arqon_shm_wait: { parameters: ["pointer", "u32", "u32"], result: "i32" },
  arqon_shm_wait_async: {
    name: "arqon_shm_wait",
    parameters: ["pointer", "u32", "u32"],
    result: "i32",
    nonblocking: true,
  },
  arqon_shm_max_frame: { parameters: ["pointer"], result: "u32" },
  arqon_shm_alive: { parameters: ["pointer"], result: "i32" },
  arqon_shm_peer_pid: { parameters: ["pointer"], result: "u32" },
  arqon_shm_stats: { parameters: ["pointer", "buffer", "u32"], result: "u32" },
  arqon_shm_close: { parameters: ["pointer"], result: "void" },
  arqon_udp_bind: { parameters: ["buffer", "u32"], result: "pointer" },
  arqon_udp_port: { parameters: ["pointer"], result: "u32" },
  arqon_udp_connect: { parameters: ["pointer", "buffer"], result: "i32" },
  arqon_udp_send: { parameters: ["pointer", "buffer", "u32"], result: "i32" },
  arqon_udp_recv: { parameters: ["pointer", "buffer", "u32"], result: "i32" },
  arqon_udp_wait: { parameters: ["pointer", "u32"], result: "i32" },
  arqon_udp_wait_async: {
    name: "arqon_udp_wait",
    parameters: ["pointer", "u32"],
    result: "i32",
    nonblocking: true,
  },
  arqon_udp_stats: { parameters: ["pointer", "buffer", "u32"], result: "u32" },
  arqon_udp_close: { parameters: ["pointer"], result: "void" },
  arqon_bench_ring_threads: {
    parameters: ["u32", "u32", "u32", "u32", "buffer"],
    result: "u64",
  },
} as const satisfies Deno.ForeignLibraryInterface;

/** The loaded core library. */
export type NativeLib = Deno.DynamicLibrary<typeof NATIVE_SYMBOLS>["symbols"];

/** ABI version this binding was written against (`ARQON_ABI_VERSION` in the header). */
export const ABI_VERSION = 1;

/** `ARQON_E_*` codes returned by the C ABI. */
export const NativeError = {
  CLOSED: -1,
  TOO_LARGE: -2,
  INVALID: -3,
  OS: -4,
} as const;

let lib: NativeLib | undefined;

/**
 * Path of the core library: `$ARQON_NATIVE_LIB`, else the release build, else the debug
 * build under `native/target/`.
 */
export function nativeLibraryPath(name = "arqon_native"): string {
  const fromEnv = name === "arqon_native" ? Deno.env.get("ARQON_NATIVE_LIB") : undefined;
  if (fromEnv) return fromEnv;
  const candidates = ["release", "debug"].map((p) =>
    new URL(`../../native/target/${p}/lib${name}.so`, here).pathname
  );
  for (const c of candidates) {
    try {
      Deno.statSync(c);
      return c;
    } catch { /* try the next */ }
  }
  throw new Error(
    `native library lib${name}.so not found (run \`deno task build\`); looked in ${
      candidates.join(", ")
    }`,
  );
}

/** Opens the core library on first use and checks its ABI version. */
export function loadNative(): NativeLib {
  if (lib) return lib;
  const opened = Deno.dlopen(nativeLibraryPath(), NATIVE_SYMBOLS);
  const version = opened.symbols.arqon_abi_version();
  if (version !== ABI_VERSION) {
    opened.close();
    throw new Error(`native ABI version ${version}, this binding needs ${ABI_VERSION}`);
  }
  lib = opened.symbols;
  return lib;
}

/** The calling thread's last native error message. */
export function lastNativeError(): string {
  const buf = new Uint8Array(512);
  const n = loadNative().arqon_last_error(buf, buf.length);
  return new TextDecoder().decode(buf.subarray(0, Math.min(n, buf.length)));
}

/** A NUL-terminated UTF-8 copy of `s` for `const char*` parameters. */
export function cString(s: string): Uint8Array<ArrayBuffer> {
  const bytes = new TextEncoder().encode(s);
  const out = new Uint8Array(bytes.length + 1);
  out.set(bytes);
  return out;
}
