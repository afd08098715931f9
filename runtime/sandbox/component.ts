/**
 * Checks that a component targets a world and takes out its main core module.
 * @module
 */
import { ComponentRejectedError } from "./errors.ts";
import { worldName, type WorldSpec } from "./world.ts";

function isComponentHeader(bytes: Uint8Array): boolean {
  return bytes.length >= 8 && bytes[0] === 0 && bytes[1] === 0x61 && bytes[2] === 0x73 &&
    bytes[3] === 0x6d && bytes[4] === 0x0d && bytes[5] === 0 && bytes[6] === 1 && bytes[7] === 0;
}

/** Whether `bytes` start like a core Wasm module (version 1). */
export function isCoreModule(bytes: Uint8Array): boolean {
  return bytes.length >= 8 && bytes[0] === 0 && bytes[1] === 0x61 && bytes[2] === 0x73 &&
    bytes[3] === 0x6d && bytes[4] === 1 && bytes[5] === 0 && bytes[6] === 0 && bytes[7] === 0;
}

/** The lines of the world block of `componentWit` output. */
function worldLines(wit: string): string[] {
  const start = wit.indexOf("world ");
  const open = wit.indexOf("{", start);
  if (start < 0 || open < 0) return [];
  let depth = 0;
  let end = open;
  for (; end < wit.length; end++) {
    if (wit[end] === "{") depth++;
    else if (wit[end] === "}" && --depth === 0) break;
  }
  return wit.slice(open + 1, end).split("\n").map((l) => l.trim()).filter((l) =>
    l !== "" && !l.startsWith("//")
  );
}

/** `a`, `a and b`, `a, b and c`. */
function listText(items: string[]): string {
  return items.length <= 1
    ? items.join("")
    : `${items.slice(0, -1).join(", ")} and ${items[items.length - 1]}`;
}

/** `use pkg/iface@v.{a, b};` as its interface and names. */
function parseUse(line: string): { from: string; names: string[] } {
  const m = /^use (.+)\.\{(.*)\};$/.exec(line);
  return m
    ? { from: m[1], names: m[2].split(",").map((s) => s.trim()) }
    : { from: line, names: [] };
}

/**
 * Compares a component's world (as printed by `componentWit`) with `world`; returns what is
 * wrong, empty when it matches.
 */
export function componentWorldProblems(wit: string, world: WorldSpec): string[] {
  const lines = worldLines(wit);
  const problems: string[] = [];
  const wanted = Object.entries(world.exports)
    .filter(([, e]) => e.wit !== undefined)
    .map(([name, e]) => `export ${name}: ${e.wit};`);
  const imports = new Set(
    [...Object.keys(world.imports), ...(world.typeImports ?? [])].map((i) => `import ${i};`),
  );
  const uses = world.uses ?? [];
  const exports = lines.filter((l) => l.startsWith("export "));
  for (const want of wanted) {
    if (!exports.includes(want)) problems.push(`lacks \`${want.replace(/;$/, "")}\``);
  }
  for (const have of exports) {
    if (!wanted.includes(have)) {
      problems.push(
        `exports \`${have.replace(/;$/, "")}\` which world ${world.world} does not have`,
      );
    }
  }
  for (const l of lines.filter((l) => l.startsWith("import "))) {
    if (!imports.has(l)) {
      problems.push(
        `imports \`${
          l.replace(/^import /, "").replace(/;$/, "")
        }\` which the host does not provide`,
      );
    }
  }
  for (const l of lines.filter((l) => l.startsWith("use "))) {
    if (!uses.includes(l)) {
      problems.push(`uses \`${l.replace(/;$/, "")}\`, expected \`${uses.join(" ")}\``);
    }
  }
  if (exports.length > 0) {
    for (const use of uses) {
      if (!lines.includes(use)) {
        const { from, names } = parseUse(use);
        problems.push(`does not take ${listText(names)} from ${from}`);
      }
    }
  }
  return problems;
}

/**
 * Checks the component against `world` and returns its main core module (the one exporting
 * `world.entry`). Throws {@linkcode ComponentRejectedError} naming what is wrong.
 */
export async function extractCore(bytes: Uint8Array, world: WorldSpec): Promise<Uint8Array> {
  if (isCoreModule(bytes)) {
    const hint = world.buildHint ? `: ${world.buildHint}` : "";
    throw new ComponentRejectedError(
      "not_a_component",
      `this is a core Wasm module, not a component${hint}`,
    );
  }
  if (!isComponentHeader(bytes)) {
    throw new ComponentRejectedError("not_a_component", "not a Wasm component (bad header)");
  }
  // jco's wasm-tools build loads only when a component is inspected.
  const { componentWit, metadataShow } = await import("@bytecodealliance/jco-transpile/wasm-tools");
  let wit: string;
  try {
    wit = await componentWit(bytes);
  } catch (e) {
    const detail = e instanceof Error ? e.message : String(e);
    throw new ComponentRejectedError(
      "not_a_component",
      `not a valid component: ${detail.split("\n")[0]}`,
    );
  }
  const problems = componentWorldProblems(wit, world);
  if (problems.length > 0) {
    throw new ComponentRejectedError(
      "wrong_world",
      `the component does not target world ${worldName(world)}: it ${problems.join("; it ")}`,
    );
  }
  const modules = (await metadataShow(bytes)).filter((m) =>
    m.parentIndex === 0 && m.metaType.tag === "module"
  );
  const mains: Uint8Array[] = [];
  for (const m of modules) {
    const core = bytes.slice(m.range[0], m.range[1]);
    try {
      const module = await WebAssembly.compile(core as BufferSource);
      const names = WebAssembly.Module.exports(module).map((e) => e.name);
      if (names.includes(world.entry)) mains.push(core);
    } catch {
      // Not a module V8 accepts: cannot be the main one.
    }
  }
  if (mains.length !== 1) {
    throw new ComponentRejectedError(
      "bad_core_module",
      `expected one core module exporting ${world.entry}, found ${mains.length}`,
    );
  }
  return mains[0];
}
