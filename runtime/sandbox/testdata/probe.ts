/**
 * A tiny world and guest for the sandbox's own tests: nothing of the policy or operator
 * worlds, so the tests show the sandbox is generic.
 * @module
 */
import { parse } from "@bytecodealliance/jco-transpile/wasm-tools";
import type { HostImports, Signature, WorldSpec } from "../mod.ts";

/** The probe world's host interface (core import module). */
export const PROBE_HOST = "test:probe/host@0.1.0";

const I32_I32_TO_I32: Signature = { params: ["i32", "i32"], results: ["i32"] };

/** World `test:probe/probe`: exports `run: func(n: u32) -> u32`, imports `add`. */
export const PROBE_WORLD: WorldSpec = {
  package: "test:probe@0.1.0",
  world: "probe",
  entry: "run",
  exports: {
    run: { wit: "func(n: u32) -> u32", core: { params: ["i32"], results: ["i32"] } },
    cabi_realloc: { core: { params: ["i32", "i32", "i32", "i32"], results: ["i32"] } },
    cabi_post_run: { core: { params: ["i32"], results: [] }, optional: true },
  },
  imports: { [PROBE_HOST]: { add: I32_I32_TO_I32 } },
};

/** A host table for the probe world; `add` adds. */
export const PROBE_IMPORTS: HostImports = {
  [PROBE_HOST]: { add: { signature: I32_I32_TO_I32, fn: (a: number, b: number) => a + b } },
};

/**
 * The probe guest: `run` calls the host's `add`, a bump allocator, and one export per way a
 * call can fail. `memory` is its memory declaration, `extra` more module fields.
 */
export function probeWat(memory = "(memory 1)", extra = ""): string {
  return `(module
  (import "${PROBE_HOST}" "add" (func $add (param i32 i32) (result i32)))
  ${memory}
  (export "memory" (memory 0))
  (global $bump (mut i32) (i32.const 1024))
  (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32)
    (local $p i32)
    (local.set $p (i32.and
      (i32.add (global.get $bump) (i32.sub (local.get 2) (i32.const 1)))
      (i32.sub (i32.const 0) (local.get 2))))
    (global.set $bump (i32.add (local.get $p) (local.get 3)))
    (local.get $p))
  (func (export "run") (param i32) (result i32) (call $add (local.get 0) (i32.const 1)))
  (func (export "spin") (loop $l (br $l)))
  (func (export "grow")
    (loop $l (br_if $l (i32.ne (memory.grow (i32.const 1)) (i32.const -1))))
    unreachable)
  (func $recurse (export "recurse") (param i32) (result i32)
    (i32.add (call $recurse (i32.add (local.get 0) (i32.const 1))) (i32.const 1)))
  (func (export "boom") unreachable)
  (func (export "div") (param i32) (result i32) (i32.div_s (i32.const 1) (local.get 0)))
  ${extra})`;
}

/** The probe guest as core module bytes. */
export async function probeModule(memory?: string, extra?: string): Promise<Uint8Array> {
  return await parse(probeWat(memory, extra));
}
