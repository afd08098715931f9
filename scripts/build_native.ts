/**
 * Builds the native sidecar (`native/`): the core cdylib always, the `dpdk` and `rdma`
 * cdylibs only where `pkg-config` finds their system libraries, and the small C programs
 * in `native/c/` against the core's header. Cargo's own incremental build makes a re-run
 * with unchanged inputs take well under a second.
 *
 * Offline builds: when Debian's vendored crates exist (`/usr/share/cargo/registry`, from
 * `apt-get install librust-libc-dev`) cargo gets `--offline` and a source replacement via
 * `--config` flags, so no machine-specific `.cargo/config.toml` is committed and other
 * machines build from crates.io as usual.
 *
 * Usage: `deno run -A scripts/build_native.ts [--debug]`
 * @module
 */

const root = new URL("../", import.meta.url).pathname;
/** The cargo workspace. */
export const nativeDir = `${root}native`;
const vendored = "/usr/share/cargo/registry";

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

/** Path of `cargo`: `$CARGO`, then `PATH`, then `~/.cargo/bin`; undefined when absent. */
export function findCargo(): string | undefined {
  const fromEnv = Deno.env.get("CARGO");
  if (fromEnv && exists(fromEnv)) return fromEnv;
  const dirs = (Deno.env.get("PATH") ?? "").split(":").filter(Boolean);
  const home = Deno.env.get("HOME");
  if (home) dirs.push(`${home}/.cargo/bin`);
  dirs.push("/root/.cargo/bin");
  return dirs.map((d) => `${d}/cargo`).find(exists);
}

/** Flags that make cargo use Debian's vendored crates offline, when they are installed. */
export function offlineFlags(): string[] {
  if (!exists(vendored)) return [];
  return [
    "--offline",
    "--config",
    'source.crates-io.replace-with="debian-vendored"',
    "--config",
    `source.debian-vendored.directory="${vendored}"`,
  ];
}

/**
 * Runs cargo in `native/` with `args` plus the offline flags. Output goes to the terminal,
 * or, with `capture`, is returned (tests show it only when cargo fails).
 */
export async function cargo(
  cargoPath: string,
  args: string[],
  capture = false,
): Promise<{ code: number; output: string }> {
  const [sub, ...rest] = args;
  const mode = capture ? "piped" : "inherit";
  const out = await new Deno.Command(cargoPath, {
    args: [sub, ...offlineFlags(), ...rest],
    cwd: nativeDir,
    stdout: mode,
    stderr: mode,
  }).output();
  const dec = new TextDecoder();
  const output = capture ? dec.decode(out.stdout) + dec.decode(out.stderr) : "";
  return { code: out.code, output };
}

/** True when `pkg-config` finds `lib` (a system library an optional crate links). */
export async function pkgConfigHas(lib: string): Promise<boolean> {
  try {
    const { code } = await new Deno.Command("pkg-config", {
      args: ["--exists", lib],
      stdout: "null",
      stderr: "null",
    }).output();
    return code === 0;
  } catch {
    return false;
  }
}

function mtime(path: string): number {
  try {
    return Deno.statSync(path).mtime?.getTime() ?? 0;
  } catch {
    return 0;
  }
}

/** Compiles `native/c/<name>.c` against the core library when its inputs changed. */
async function buildC(name: string, libDir: string): Promise<void> {
  const src = `${nativeDir}/c/${name}.c`;
  const out = `${nativeDir}/c/build/${name}`;
  const header = `${nativeDir}/include/arqon_native.h`;
  const lib = `${libDir}/libarqon_native.so`;
  if (mtime(out) > Math.max(mtime(src), mtime(header), mtime(lib))) return;
  Deno.mkdirSync(`${nativeDir}/c/build`, { recursive: true });
  const { code } = await new Deno.Command("cc", {
    args: [
      "-O2",
      "-Wall",
      "-Wextra",
      "-Werror",
      "-std=c11",
      "-D_POSIX_C_SOURCE=200809L",
      `-I${nativeDir}/include`,
      src,
      "-o",
      out,
      `-L${libDir}`,
      "-larqon_native",
      `-Wl,-rpath,${libDir}`,
    ],
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (code !== 0) throw new Error(`build_native: cc ${name}.c failed`);
}

async function main(): Promise<void> {
  const debug = Deno.args.includes("--debug");
  const cargoPath = findCargo();
  if (!cargoPath) {
    console.error(
      "build_native: cargo not found (PATH, ~/.cargo/bin). Install rustc/cargo " +
        "(Debian: apt-get install cargo librust-libc-dev) to build the native sidecar.",
    );
    Deno.exit(1);
  }
  const profile = debug ? [] : ["--release"];
  const libDir = `${nativeDir}/target/${debug ? "debug" : "release"}`;
  if ((await cargo(cargoPath, ["build", ...profile, "-p", "arqon_native"])).code !== 0) {
    console.error("build_native: core library failed to build");
    Deno.exit(1);
  }
  for (const entry of Deno.readDirSync(`${nativeDir}/c`)) {
    if (entry.isFile && entry.name.endsWith(".c")) {
      await buildC(entry.name.slice(0, -2), libDir);
    }
  }
  for (
    const [crate, lib, what] of [
      ["arqon_dpdk", "libdpdk", "DPDK (apt-get install dpdk-dev libdpdk-dev)"],
      ["arqon_rdma", "libibverbs", "RDMA (apt-get install libibverbs-dev)"],
    ]
  ) {
    if (!(await pkgConfigHas(lib))) {
      console.log(`build_native: skipping ${crate}: pkg-config finds no ${lib}; install ${what}`);
      continue;
    }
    if ((await cargo(cargoPath, ["build", ...profile, "-p", crate])).code !== 0) {
      console.error(`build_native: ${crate} failed to build`);
      Deno.exit(1);
    }
  }
}

if (import.meta.main) await main();
