/**
 * Builds the dashboard the node serves at `/ui` into `build/ui/` (not committed):
 *
 *   ui/src/main.ts -> build/ui/app.js   (`deno bundle`, browser platform, minified: the
 *                                        page's code with uPlot and the parsers it imports,
 *                                        so the page loads nothing from elsewhere)
 *   ui/index.html -> build/ui/index.html
 *   uPlot's stylesheet + ui/style.css -> build/ui/style.css (one render-blocking request)
 *
 * The step is skipped when `build/ui/.hash` records the same inputs (every file of `ui/`,
 * `deno.json`, `deno.lock`, this script).
 *
 *   deno run -A scripts/build_ui.ts            # build when the sources changed
 *   deno run -A scripts/build_ui.ts --force    # build anyway
 * @module
 */
const ROOT = new URL("../", import.meta.url);
const SRC = new URL("ui/", ROOT);
const OUT = new URL("build/ui/", ROOT);
const STAMP = new URL(".hash", OUT);
/** Copied as they are. */
const STATIC = ["index.html"];

async function files(dir: URL, prefix = ""): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    if (e.isDirectory) out.push(...await files(new URL(`${e.name}/`, dir), `${prefix}${e.name}/`));
    else if (e.isFile) out.push(prefix + e.name);
  }
  return out.sort();
}

async function inputsHash(): Promise<string> {
  const parts: Uint8Array[] = [];
  const enc = new TextEncoder();
  for (const name of await files(SRC)) {
    parts.push(enc.encode(`\0${name}\0`), await Deno.readFile(new URL(name, SRC)));
  }
  for (const name of ["deno.json", "deno.lock", "scripts/build_ui.ts"]) {
    parts.push(enc.encode(`\0${name}\0`), await Deno.readFile(new URL(name, ROOT)));
  }
  const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    all.set(p, at);
    at += p.length;
  }
  const digest = await crypto.subtle.digest("SHA-256", all);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

const hash = await inputsHash();
const force = Deno.args.includes("--force");
const stamped = await Deno.readTextFile(STAMP).catch(() => "");
if (!force && stamped === hash) {
  console.log("build_ui: build/ui/ is up to date");
  Deno.exit(0);
}
await Deno.mkdir(OUT, { recursive: true });
const bundle = await new Deno.Command(Deno.execPath(), {
  args: [
    "bundle",
    "--platform",
    "browser",
    "--minify",
    "--output",
    new URL("app.js", OUT).pathname,
    new URL("src/main.ts", SRC).pathname,
  ],
  cwd: ROOT,
  stdout: "inherit",
  stderr: "inherit",
}).output();
if (bundle.code !== 0) {
  console.error("build_ui: deno bundle failed");
  Deno.exit(bundle.code);
}
for (const name of STATIC) await Deno.copyFile(new URL(name, SRC), new URL(name, OUT));
// uPlot's stylesheet, from the package the bundle just resolved (node_modules is "auto"),
// then ours: one stylesheet, so the first paint waits for one request, not two.
const uplotCss = await Deno.readTextFile(new URL("node_modules/uplot/dist/uPlot.min.css", ROOT));
await Deno.writeTextFile(
  new URL("style.css", OUT),
  `${uplotCss}\n${await Deno.readTextFile(new URL("style.css", SRC))}`,
);
await Deno.remove(new URL("uPlot.min.css", OUT)).catch(() => {});
await Deno.writeTextFile(STAMP, hash);
const size = (await Deno.stat(new URL("app.js", OUT))).size;
console.log(`build_ui: build/ui/app.js (${size} bytes), index.html, style.css`);
