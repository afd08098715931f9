/**
 * Checks that a component targets world `arqon:bus/policy` and takes out its core module.
 * @module
 */
import { HOST_MODULE, WIT_PACKAGE } from "../../wit/mod.ts";
import { ComponentRejectedError } from "./errors.ts";

const TYPES_IMPORT = `import ${WIT_PACKAGE.replace("@", "/types@")};`;
const HOST_IMPORT = `import ${HOST_MODULE};`;

/** The world-level lines a policy component must show (as `componentWit` prints them). */
export const POLICY_WORLD_EXPORTS: readonly string[] = [
  "export configure: func(config: string) -> result<_, string>;",
  "export evaluate: func(ctx: pulse-context, payload: list<u8>) -> verdict;",
];
const POLICY_USE = `use ${WIT_PACKAGE.replace("@", "/types@")}.{pulse-context, verdict};`;

function isComponentHeader(bytes: Uint8Array): boolean {
  return bytes.length >= 8 && bytes[0] === 0 && bytes[1] === 0x61 && bytes[2] === 0x73 &&
    bytes[3] === 0x6d && bytes[4] === 0x0d && bytes[5] === 0 && bytes[6] === 1 && bytes[7] === 0;
}

function isCoreHeader(bytes: Uint8Array): boolean {
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

/**
 * Compares a component's world (as printed by `componentWit`) with world `policy`; returns
 * what is wrong, empty when it matches.
 */
export function policyWorldProblems(wit: string): string[] {
  const lines = worldLines(wit);
  const problems: string[] = [];
  const exports = lines.filter((l) => l.startsWith("export "));
  for (const want of POLICY_WORLD_EXPORTS) {
    if (!exports.includes(want)) problems.push(`lacks \`${want.replace(/;$/, "")}\``);
  }
  for (const have of exports) {
    if (!POLICY_WORLD_EXPORTS.includes(have)) {
      problems.push(`exports \`${have.replace(/;$/, "")}\` which world policy does not have`);
    }
  }
  for (const l of lines.filter((l) => l.startsWith("import "))) {
    if (l !== TYPES_IMPORT && l !== HOST_IMPORT) {
      problems.push(
        `imports \`${
          l.replace(/^import /, "").replace(/;$/, "")
        }\` which the host does not provide`,
      );
    }
  }
  for (const l of lines.filter((l) => l.startsWith("use "))) {
    if (l !== POLICY_USE) {
      problems.push(`uses \`${l.replace(/;$/, "")}\`, expected \`${POLICY_USE}\``);
    }
  }
  if (exports.length > 0 && !lines.includes(POLICY_USE)) {
    problems.push(
      `does not take pulse-context and verdict from ${WIT_PACKAGE.replace("@", "/types@")}`,
    );
  }
  return problems;
}

/**
 * Checks the component and returns its main core module (the one exporting `evaluate`).
 * Throws {@linkcode ComponentRejectedError} naming what is wrong.
 */
export async function extractPolicyCore(bytes: Uint8Array): Promise<Uint8Array> {
  if (isCoreHeader(bytes)) {
    throw new ComponentRejectedError(
      "not_a_component",
      "this is a core Wasm module, not a component: wrap it with `deno task policy:build` (componentEmbed + componentNew)",
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
  const problems = policyWorldProblems(wit);
  if (problems.length > 0) {
    throw new ComponentRejectedError(
      "wrong_world",
      `the component does not target world arqon:bus/policy: it ${problems.join("; it ")}`,
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
      if (names.includes("evaluate")) mains.push(core);
    } catch {
      // Not a module V8 accepts: cannot be the main one.
    }
  }
  if (mains.length !== 1) {
    throw new ComponentRejectedError(
      "bad_core_module",
      `expected one core module exporting evaluate, found ${mains.length}`,
    );
  }
  return mains[0];
}
