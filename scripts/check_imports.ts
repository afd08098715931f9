/**
 * The import check of `deno task lint`: parses every production `.ts` file of the
 * library (`runtime/`, `casil/`, `operators/`, `wit/`, `mod.ts`), resolves its relative
 * imports and fails (exit 1, listing the offenders) when
 *
 * - a file imports another folder's file other than that folder's `mod.ts` (a bypass; a
 *   folder is a directory with a `mod.ts`, a subfolder with its own `mod.ts` included),
 * - files import each other in a cycle (type-only imports count: a cycle of types is
 *   still two files that cannot be understood apart),
 * - a dependency goes against the layering (`ALLOWED` below).
 *
 * Usage: `deno run -A scripts/check_imports.ts [root]` (root: the repository, default cwd).
 * @module
 */
import { existsSync } from "node:fs";
import { dirname, join, normalize } from "node:path";

/** Top folders and files the check reads, relative to the root. */
const SCANNED = ["runtime", "casil", "operators", "wit", "mod.ts"];

/** Paths (relative, `/`-separated) the check skips: tests, fixtures, non-Deno sources. */
const SKIPPED: readonly RegExp[] = [
  /_test\.ts$/,
  /(^|\/)testdata\//,
  /(^|\/)node_modules\//,
  /^casil\/sdk\/assembly\//,
  /^casil\/policies\//,
  /^casil\/testdata\//,
  /^operators\/sdk\/assembly\//,
  /(^|\/)generated\//,
  /\.generated\.ts$/,
  /_pb\.ts$/,
];

/** A file whose head says so is generated code: not ours to lay out. */
const GENERATED_MARK = /@generated|DO NOT EDIT|Code generated/;

/** Layers by path prefix (longest first wins); the root `mod.ts` is the `root` layer. */
const LAYERS: readonly (readonly [prefix: string, layer: string])[] = [
  ["runtime/node", "node"],
  ["runtime/shield", "shield"],
  ["runtime/spine", "spine"],
  ["runtime/store", "store"],
  ["runtime/protocol", "protocol"],
  ["runtime/sandbox", "sandbox"],
  ["runtime/time", "time"],
  ["runtime/identity", "identity"],
  ["runtime/transport", "transport"],
  ["runtime/telemetry", "telemetry"],
  ["runtime/client", "client"],
  ["runtime/proxy", "proxy"],
  ["runtime/config", "config"],
  ["runtime/cluster", "cluster"],
  ["casil", "casil"],
  ["operators", "operators"],
  ["wit", "wit"],
];

/**
 * Which layers each layer may import (its own always). Dependencies point one way: the
 * node wires everything; nothing imports the Shield or the node but the root `mod.ts`.
 */
export const ALLOWED: Readonly<Record<string, readonly string[]>> = {
  root: ["*"],
  node: ["*"],
  shield: ["spine", "protocol", "transport", "identity", "telemetry", "time", "config"],
  spine: ["protocol", "telemetry", "time", "config"],
  store: ["spine", "protocol", "telemetry", "time", "config"],
  // The cluster implements the Spine's and the store's ports on NATS JetStream.
  cluster: ["spine", "store", "protocol", "telemetry", "time", "config"],
  // A world's adapter builds and checks components against its WIT (`wit/`).
  casil: ["sandbox", "wit", "spine", "protocol", "telemetry", "config"],
  // Operators derive their outputs' ids, times and seeds with `time` (replay is exact).
  operators: ["sandbox", "wit", "spine", "protocol", "telemetry", "time", "config"],
  sandbox: ["wit", "protocol"],
  client: ["protocol", "transport", "identity", "time"],
  // The proxy is a client of the node like any other: it never reaches inside it.
  proxy: ["client", "protocol", "config"],
  identity: ["protocol"],
  transport: ["protocol", "telemetry", "config"],
  wit: [],
  time: ["protocol"],
  telemetry: [],
  protocol: [],
  config: [],
};

/** One resolved import: `from` imports `to` (both relative to the root, `/`-separated). */
export interface ImportEdge {
  readonly from: string;
  readonly to: string;
}

/** What the check found. */
export interface ImportReport {
  /** Files read. */
  readonly files: readonly string[];
  /** Imports of another folder's internal file. */
  readonly bypasses: readonly ImportEdge[];
  /** Import cycles, each as the files of one cycle. */
  readonly cycles: readonly (readonly string[])[];
  /** Imports against the layering, with the layers involved. */
  readonly directions: readonly (ImportEdge & { fromLayer: string; toLayer: string })[];
}

/** Replaces comments and string/template contents by spaces, keeping import specifiers. */
function stripComments(src: string): string {
  let out = "";
  let i = 0;
  while (i < src.length) {
    const c = src[i];
    const n = src[i + 1];
    if (c === "/" && n === "/") {
      while (i < src.length && src[i] !== "\n") i++;
    } else if (c === "/" && n === "*") {
      const end = src.indexOf("*/", i + 2);
      const stop = end < 0 ? src.length : end + 2;
      out += src.slice(i, stop).replace(/[^\n]/g, " ");
      i = stop;
    } else if (c === '"' || c === "'" || c === "`") {
      // Strings stay (specifiers are strings); skip over them so a `//` inside is kept.
      // Template literals are blanked: generated source in them is not an import.
      let j = i + 1;
      while (j < src.length && src[j] !== c) {
        if (src[j] === "\\") j++;
        if (c !== "`" && src[j] === "\n") break;
        j++;
      }
      const literal = src.slice(i, j + 1);
      out += c === "`" ? literal.replace(/[^\n]/g, " ") : literal;
      i = j + 1;
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

const STATIC_IMPORT =
  /(?:^|[\n;])\s*(?:import|export)(?:\s+type)?\s*(?:[\w$*\s{},]*?\bfrom\s*)?["']([^"'\n]+)["']/g;
const DYNAMIC_IMPORT = /\bimport\s*\(\s*["']([^"'\n]+)["']\s*\)/g;
const WORKER_URL = /\bnew\s+URL\(\s*["'](\.{1,2}\/[^"'\n]+\.ts)["']\s*,\s*import\.meta\.url/g;

/** The specifiers a module imports (static, dynamic with a literal, worker URLs). */
export function importSpecifiers(source: string): string[] {
  const code = stripComments(source);
  const found: string[] = [];
  for (const re of [STATIC_IMPORT, DYNAMIC_IMPORT, WORKER_URL]) {
    for (const m of code.matchAll(re)) found.push(m[1]);
  }
  return found;
}

function toPosix(path: string): string {
  return path.split("\\").join("/");
}

function skipped(rel: string): boolean {
  return SKIPPED.some((re) => re.test(rel));
}

async function listFiles(root: string): Promise<string[]> {
  const files: string[] = [];
  const walk = async (rel: string): Promise<void> => {
    if (skipped(rel + "/")) return;
    for await (const entry of Deno.readDir(join(root, rel))) {
      const child = rel ? `${rel}/${entry.name}` : entry.name;
      if (entry.isDirectory) await walk(child);
      else if (entry.isFile && child.endsWith(".ts") && !child.endsWith(".d.ts")) {
        if (!skipped(child)) files.push(child);
      }
    }
  };
  for (const top of SCANNED) {
    const abs = join(root, top);
    if (!existsSync(abs)) continue;
    if (Deno.statSync(abs).isDirectory) await walk(top);
    else if (!skipped(top)) files.push(top);
  }
  return files.sort();
}

/** The folder a file belongs to: its nearest directory with a `mod.ts` ("" for the root). */
function folderOf(root: string, file: string, cache: Map<string, string>): string {
  let dir = dirname(file);
  const seen: string[] = [];
  while (true) {
    const key = dir === "." ? "" : dir;
    const known = cache.get(key);
    if (known !== undefined) {
      for (const d of seen) cache.set(d, known);
      return known;
    }
    seen.push(key);
    if (existsSync(join(root, key, "mod.ts"))) {
      for (const d of seen) cache.set(d, key);
      return key;
    }
    if (key === "") {
      for (const d of seen) cache.set(d, "");
      return "";
    }
    dir = dirname(dir);
  }
}

/** The layer of a folder. */
export function layerOf(folder: string): string {
  let best: readonly [string, string] | undefined;
  for (const entry of LAYERS) {
    const [prefix] = entry;
    if (folder === prefix || folder.startsWith(prefix + "/")) {
      if (!best || prefix.length > best[0].length) best = entry;
    }
  }
  return best ? best[1] : "root";
}

/** Cycles of the graph: its strongly connected components of two or more files, or a self-import. */
function findCycles(nodes: readonly string[], edges: Map<string, Set<string>>): string[][] {
  let index = 0;
  const indexOf = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  // Iterative Tarjan: deep import chains must not overflow the call stack.
  for (const start of nodes) {
    if (indexOf.has(start)) continue;
    const work: { node: string; next: Iterator<string> }[] = [];
    const enter = (node: string) => {
      indexOf.set(node, index);
      low.set(node, index);
      index++;
      stack.push(node);
      onStack.add(node);
      work.push({ node, next: (edges.get(node) ?? new Set()).values() });
    };
    enter(start);
    while (work.length > 0) {
      const top = work[work.length - 1];
      const step = top.next.next();
      if (!step.done) {
        const to = step.value;
        if (!indexOf.has(to)) enter(to);
        else if (onStack.has(to)) low.set(top.node, Math.min(low.get(top.node)!, indexOf.get(to)!));
        continue;
      }
      work.pop();
      if (work.length > 0) {
        const parent = work[work.length - 1].node;
        low.set(parent, Math.min(low.get(parent)!, low.get(top.node)!));
      }
      if (low.get(top.node) === indexOf.get(top.node)) {
        const component: string[] = [];
        let member: string;
        do {
          member = stack.pop()!;
          onStack.delete(member);
          component.push(member);
        } while (member !== top.node);
        if (component.length > 1 || edges.get(top.node)?.has(top.node)) {
          cycles.push(component.sort());
        }
      }
    }
  }
  return cycles;
}

/** Runs the check over the repository at `root`. */
export async function checkImports(root: string): Promise<ImportReport> {
  const files = await listFiles(root);
  const scanned = new Set(files);
  const folders = new Map<string, string>();
  const edges = new Map<string, Set<string>>();
  const bypasses: ImportEdge[] = [];
  const directions: (ImportEdge & { fromLayer: string; toLayer: string })[] = [];
  for (const from of files) {
    const source = await Deno.readTextFile(join(root, from));
    if (GENERATED_MARK.test(source.slice(0, 400))) continue;
    const fromFolder = folderOf(root, from, folders);
    const fromLayer = layerOf(fromFolder);
    for (const spec of importSpecifiers(source)) {
      if (!spec.startsWith("./") && !spec.startsWith("../")) continue;
      const to = toPosix(normalize(join(dirname(from), spec)));
      if (to.startsWith("../")) continue; // outside the repository: not ours to check
      if (!edges.has(from)) edges.set(from, new Set());
      edges.get(from)!.add(to);
      const toFolder = folderOf(root, to, folders);
      if (toFolder !== fromFolder) {
        const entry = toFolder ? `${toFolder}/mod.ts` : "mod.ts";
        // A subfolder is part of its parent: it may use the parent's own files (the
        // parent's mod.ts re-exports the subfolder, so going through it would be a cycle).
        const intoAncestor = toFolder !== "" && fromFolder.startsWith(`${toFolder}/`);
        if (to !== entry && !skipped(to) && !intoAncestor) bypasses.push({ from, to });
        const toLayer = layerOf(toFolder);
        const allowed = ALLOWED[fromLayer] ?? [];
        if (
          toLayer !== fromLayer && !allowed.includes("*") && !allowed.includes(toLayer)
        ) {
          directions.push({ from, to, fromLayer, toLayer });
        }
      }
    }
  }
  const graph = new Map<string, Set<string>>();
  for (const [from, targets] of edges) {
    graph.set(from, new Set([...targets].filter((t) => scanned.has(t))));
  }
  const cycles = findCycles(files, graph);
  return { files, bypasses, cycles, directions };
}

/** The report as lines for a terminal; empty when the check passes. */
export function formatReport(report: ImportReport): string[] {
  const lines: string[] = [];
  if (report.bypasses.length > 0) {
    lines.push(`${report.bypasses.length} import(s) past another folder's mod.ts:`);
    for (const e of report.bypasses) lines.push(`  ${e.from} -> ${e.to}`);
  }
  if (report.cycles.length > 0) {
    lines.push(`${report.cycles.length} import cycle(s):`);
    for (const c of report.cycles) lines.push(`  ${c.join(" <-> ")}`);
  }
  if (report.directions.length > 0) {
    lines.push(`${report.directions.length} import(s) against the layering:`);
    for (const e of report.directions) {
      lines.push(`  ${e.from} -> ${e.to} (${e.fromLayer} may not import ${e.toLayer})`);
    }
  }
  return lines;
}

if (import.meta.main) {
  const root = Deno.args[0] ?? Deno.cwd();
  const report = await checkImports(root);
  const problems = formatReport(report);
  if (problems.length > 0) {
    console.error(`check_imports: ${root}`);
    for (const line of problems) console.error(line);
    Deno.exit(1);
  }
  console.log(`check_imports: ${report.files.length} files, no bypass, no cycle, layering kept`);
}
