/**
 * The core-level world check with Binaryen: a guest's core module against a
 * {@linkcode WorldSpec}'s signature table (what it imports from the host, what it exports),
 * plus what every sandboxed module must be (its own memory exported as `memory`, no imported
 * tables or globals). Imported on demand, as Binaryen is large.
 * @module
 */
import binaryen from "binaryen";
import type { RejectCode } from "./errors.ts";
import { MEMORY_EXPORT } from "./names.ts";
import {
  sameSignature,
  type Signature,
  signatureText,
  type ValType,
  type WorldSpec,
} from "./world.ts";

/** One thing wrong with a core module, with the reason code it is refused under. */
export interface CoreProblem {
  /** `bad_core_module` for what no world allows, `wrong_world` for a table mismatch. */
  readonly code: RejectCode;
  /** What is wrong, in words. */
  readonly message: string;
}

function valType(t: number): ValType | string {
  return t === binaryen.i32
    ? "i32"
    : t === binaryen.i64
    ? "i64"
    : t === binaryen.f32
    ? "f32"
    : t === binaryen.f64
    ? "f64"
    : String(t);
}

function functionSig(fn: number): Signature {
  const info = binaryen.getFunctionInfo(fn);
  const results = info.results === binaryen.none ? [] : binaryen.expandType(info.results);
  // A type outside ValType (v128, a reference) is kept as its number, so it never matches.
  return {
    params: binaryen.expandType(info.params).map(valType) as ValType[],
    results: results.map(valType) as ValType[],
  };
}

/**
 * What is wrong with `mod` for `world`, in the order the checks run (the first one is what
 * a refusal reports). Empty when the module fits.
 */
export function coreWorldProblems(mod: binaryen.Module, world: WorldSpec): CoreProblem[] {
  const problems: CoreProblem[] = [];
  for (let i = 0; i < mod.getNumTables(); i++) {
    if (binaryen.getTableInfo(mod.getTableByIndex(i)).module) {
      problems.push({ code: "bad_core_module", message: "the core module imports a table" });
    }
  }
  for (let i = 0; i < mod.getNumGlobals(); i++) {
    const g = binaryen.getGlobalInfo(mod.getGlobalByIndex(i));
    if (g.module) {
      problems.push({
        code: "bad_core_module",
        message: `the core module imports global ${g.module}.${g.base}`,
      });
    }
  }
  for (let i = 0; i < mod.getNumFunctions(); i++) {
    const info = binaryen.getFunctionInfo(mod.getFunctionByIndex(i));
    if (!info.module) continue;
    const want = world.imports[info.module]?.[info.base ?? ""];
    if (!want) {
      problems.push({
        code: "wrong_world",
        message:
          `the core module imports ${info.module}.${info.base}, which the host does not provide`,
      });
      continue;
    }
    const have = functionSig(mod.getFunctionByIndex(i));
    if (!sameSignature(have, want)) {
      problems.push({
        code: "wrong_world",
        message: `import ${info.base} has signature ${signatureText(have)}, expected ${
          signatureText(want)
        }`,
      });
    }
  }
  const exported = new Map<string, { kind: number; value: string }>();
  for (let i = 0; i < mod.getNumExports(); i++) {
    const e = binaryen.getExportInfo(mod.getExportByIndex(i));
    exported.set(e.name, { kind: e.kind, value: e.value });
  }
  const memory = exported.get(MEMORY_EXPORT);
  if (!memory || memory.kind !== binaryen.ExternalMemory) {
    problems.push({
      code: "bad_core_module",
      message: `the core module does not export its memory as \`${MEMORY_EXPORT}\``,
    });
  }
  for (const [name, { core, optional }] of Object.entries(world.exports)) {
    const e = exported.get(name);
    if (!e) {
      if (!optional) {
        problems.push({
          code: "wrong_world",
          message: `the core module does not export ${name}`,
        });
      }
      continue;
    }
    if (e.kind !== binaryen.ExternalFunction) {
      problems.push({ code: "wrong_world", message: `export ${name} is not a function` });
      continue;
    }
    const have = functionSig(mod.getFunction(e.value));
    if (!sameSignature(have, core)) {
      problems.push({
        code: "wrong_world",
        message: `export ${name} has signature ${signatureText(have)}, expected ${
          signatureText(core)
        }`,
      });
    }
  }
  return problems;
}
