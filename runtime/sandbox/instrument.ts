/**
 * Load-time checks and rewriting of a policy's core module with Binaryen: the interface
 * check against the adapter's fixed signatures, and fuel metering (`fuel.ts`). Imported on
 * demand, as Binaryen is large.
 * @module
 */
import binaryen from "binaryen";
import { ComponentRejectedError } from "./errors.ts";
import { HOST_MODULE } from "../../wit/mod.ts";

export { meterFuel, readModule } from "./fuel.ts";

const I32 = binaryen.i32;
const I64 = binaryen.i64;
const NONE = binaryen.none;

/** Core signatures of the host functions a policy may import. */
const HOST_IMPORTS: Record<string, [number[], number[]]> = {
  "log": [[I32, I32, I32], []],
  "random-u64": [[], [I64]],
  "logical-time": [[I32], []],
};

/** Core signatures of the policy's exports; `optional` ones may be absent. */
const POLICY_EXPORTS: Record<string, { sig: [number[], number[]]; optional?: boolean }> = {
  "evaluate": { sig: [Array(12).fill(I32), [I32]] },
  "configure": { sig: [[I32, I32], [I32]] },
  "cabi_realloc": { sig: [[I32, I32, I32, I32], [I32]] },
  "cabi_post_evaluate": { sig: [[I32], []], optional: true },
  "cabi_post_configure": { sig: [[I32], []], optional: true },
};

function sigText([params, results]: [number[], number[]]): string {
  const name = (t: number) => t === I32 ? "i32" : t === I64 ? "i64" : String(t);
  return `(${params.map(name).join(", ")}) -> (${results.map(name).join(", ")})`;
}

function sameSig(a: [number[], number[]], b: [number[], number[]]): boolean {
  return a[0].length === b[0].length && a[1].length === b[1].length &&
    a[0].every((t, i) => t === b[0][i]) && a[1].every((t, i) => t === b[1][i]);
}

function functionSig(fn: number): [number[], number[]] {
  const info = binaryen.getFunctionInfo(fn);
  const results = info.results === NONE ? [] : binaryen.expandType(info.results);
  return [binaryen.expandType(info.params), results];
}

/** Checks the core module's imports and exports against the adapter's fixed signatures. */
export function checkInterface(mod: binaryen.Module): void {
  if (mod.getNumTables() > 0) {
    for (let i = 0; i < mod.getNumTables(); i++) {
      if (binaryen.getTableInfo(mod.getTableByIndex(i)).module) {
        throw new ComponentRejectedError("bad_core_module", "the core module imports a table");
      }
    }
  }
  for (let i = 0; i < mod.getNumGlobals(); i++) {
    const g = binaryen.getGlobalInfo(mod.getGlobalByIndex(i));
    if (g.module) {
      throw new ComponentRejectedError(
        "bad_core_module",
        `the core module imports global ${g.module}.${g.base}`,
      );
    }
  }
  for (let i = 0; i < mod.getNumFunctions(); i++) {
    const info = binaryen.getFunctionInfo(mod.getFunctionByIndex(i));
    if (!info.module) continue;
    const want = info.module === HOST_MODULE ? HOST_IMPORTS[info.base ?? ""] : undefined;
    if (!want) {
      throw new ComponentRejectedError(
        "wrong_world",
        `the core module imports ${info.module}.${info.base}, which the host does not provide`,
      );
    }
    const have = functionSig(mod.getFunctionByIndex(i));
    if (!sameSig(have, want)) {
      throw new ComponentRejectedError(
        "wrong_world",
        `import ${info.base} has signature ${sigText(have)}, expected ${sigText(want)}`,
      );
    }
  }
  const exported = new Map<string, { kind: number; value: string }>();
  for (let i = 0; i < mod.getNumExports(); i++) {
    const e = binaryen.getExportInfo(mod.getExportByIndex(i));
    exported.set(e.name, { kind: e.kind, value: e.value });
  }
  const memory = exported.get("memory");
  if (!memory || memory.kind !== binaryen.ExternalMemory) {
    throw new ComponentRejectedError(
      "bad_core_module",
      "the core module does not export its memory as `memory`",
    );
  }
  for (const [name, { sig, optional }] of Object.entries(POLICY_EXPORTS)) {
    const e = exported.get(name);
    if (!e) {
      if (optional) continue;
      throw new ComponentRejectedError("wrong_world", `the core module does not export ${name}`);
    }
    if (e.kind !== binaryen.ExternalFunction) {
      throw new ComponentRejectedError("wrong_world", `export ${name} is not a function`);
    }
    const have = functionSig(mod.getFunction(e.value));
    if (!sameSig(have, sig)) {
      throw new ComponentRejectedError(
        "wrong_world",
        `export ${name} has signature ${sigText(have)}, expected ${sigText(sig)}`,
      );
    }
  }
}
