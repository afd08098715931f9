/**
 * Builds guest components into files, skipping sources whose inputs are unchanged (the
 * stamp is a hash of the source and the sources beside it, the toolchain's SDK folders, the
 * WIT package and the compiler).
 * @module
 */
import { WIT_DIR } from "../../../wit/mod.ts";
import { absoluteSource, compileGuest, type GuestToolchain } from "./compile.ts";

const COMPILER = new URL("./compile.ts", import.meta.url).pathname;

async function filesIn(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) if (e.isFile) out.push(`${dir}${e.name}`);
  return out.sort();
}

async function inputsDigest(source: string, toolchain: GuestToolchain): Promise<string> {
  // The files beside the source too: a guest split into modules (`import "./program"`)
  // must be rebuilt when any of them changes, not only its entry.
  const dir = source.slice(0, source.lastIndexOf("/") + 1);
  const siblings = (await filesIn(dir)).filter((f) => f.endsWith(".ts") && f !== source);
  const files = [source, ...siblings, COMPILER];
  for (const dir of Object.values(toolchain.packages)) files.push(...await filesIn(dir));
  files.push(...await filesIn(WIT_DIR));
  const parts: Uint8Array[] = [new TextEncoder().encode(toolchain.entry(source, "") + "\0")];
  for (const f of files) {
    parts.push(new TextEncoder().encode(f + "\0"), await Deno.readFile(f));
  }
  const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    all.set(p, at);
    at += p.length;
  }
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", all));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * The component built from the AssemblyScript `source` into `outPath`, rebuilt only when
 * its inputs changed. Returns the component bytes.
 */
export async function buildGuestCached(
  source: string,
  outPath: string,
  toolchain: GuestToolchain,
): Promise<Uint8Array<ArrayBuffer>> {
  source = absoluteSource(source);
  const stampPath = `${outPath}.stamp`;
  const digest = await inputsDigest(source, toolchain);
  try {
    if ((await Deno.readTextFile(stampPath)).trim() === digest) return await Deno.readFile(outPath);
  } catch {
    // Not built yet.
  }
  const component = new Uint8Array(await compileGuest(source, toolchain));
  const slash = outPath.lastIndexOf("/");
  if (slash > 0) await Deno.mkdir(outPath.slice(0, slash), { recursive: true });
  // Write to temporary names first: parallel test processes may build the same guest, and
  // each writer needs its own names (two processes share the digest).
  const unique = crypto.randomUUID();
  const tmp = `${outPath}.${unique}.tmp`;
  await Deno.writeFile(tmp, component);
  await Deno.rename(tmp, outPath);
  await Deno.writeTextFile(`${stampPath}.${unique}.tmp`, digest);
  await Deno.rename(`${stampPath}.${unique}.tmp`, stampPath);
  return component;
}

/**
 * The command line of a world's build script (`policy:build`, `operator:build`):
 * `[source …] [-o out.wasm]`; with no source, `defaults` (pairs of source and output).
 * Prints one line per guest; resolves to the exit code.
 */
export async function runGuestBuild(
  task: string,
  args: readonly string[],
  toolchain: GuestToolchain,
  defaults: () => Promise<[string, string][]>,
): Promise<number> {
  const rest = [...args];
  const outIndex = rest.indexOf("-o");
  const out = outIndex >= 0 ? rest.splice(outIndex, 2)[1] : undefined;
  if (out && rest.length > 1) {
    console.error(`${task}: -o takes a single source`);
    return 2;
  }
  const targets: [string, string][] = rest.length === 0
    ? await defaults()
    : rest.map((s) => [s, out ?? s.replace(/\.ts$/, "") + ".wasm"]);
  let failed = 0;
  for (const [source, target] of targets) {
    try {
      const bytes = await buildGuestCached(source, target, toolchain);
      console.log(`${task} ${source} -> ${target} (${bytes.length} bytes)`);
    } catch (e) {
      failed++;
      console.error(`${task} ${source}: ${e instanceof Error ? e.message : e}`);
    }
  }
  return failed > 0 ? 1 : 0;
}

/** The `.ts` files of `dir`, sorted (absolute paths). */
export async function sourcesIn(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    if (e.isFile && e.name.endsWith(".ts")) out.push(`${dir}/${e.name}`);
  }
  return out.sort();
}
