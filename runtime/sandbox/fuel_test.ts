import assert from "node:assert/strict";
import { parse } from "@bytecodealliance/jco-transpile/wasm-tools";
import { ComponentRejectedError, FUEL_EXPORT, instrumentCore, type WorldSpec } from "./mod.ts";

/** A world that asks nothing but a memory: these tests are about metering. */
const BARE_WORLD: WorldSpec = {
  package: "test:bare@0.1.0",
  world: "bare",
  entry: "x",
  exports: {},
  imports: {},
};

/** A core module with its memory exported, plus `extra`. */
function wat(memory: string, extra: string): string {
  return `(module ${memory} (export "memory" (memory 0)) ${extra})`;
}

const LIMITS = { fuelPerCall: 1_000_000, memoryPages: 4 };

async function instantiate(extra: string) {
  const bytes = await instrumentCore(await parse(wat("(memory 1)", extra)), BARE_WORLD, LIMITS);
  const inst = new WebAssembly.Instance(new WebAssembly.Module(bytes as BufferSource));
  const ex = inst.exports as Record<string, unknown>;
  return { ex, fuel: ex[FUEL_EXPORT] as WebAssembly.Global };
}

// Counts down from n: a loop whose body is a forward branch target (a named block).
const COUNTDOWN = `(func (export "x") (param i32) (result i32)
  (local $acc i32)
  (block $done
    (loop $l
      (block $skip
        (br_if $skip (i32.and (local.get 0) (i32.const 1)))
        (local.set $acc (i32.add (local.get $acc) (i32.const 1))))
      (local.set $acc (i32.add (local.get $acc) (i32.const 1)))
      (br_if $done (i32.eqz (local.tee 0 (i32.sub (local.get 0) (i32.const 1)))))
      (br $l)))
  (local.get $acc))`;

Deno.test("metered fuel is deterministic and linear in the iterations", async () => {
  const { ex, fuel } = await instantiate(COUNTDOWN);
  const x = ex.x as (n: number) => number;
  const used = (n: number) => {
    fuel.value = 1_000_000n;
    const result = x(n);
    return { result, fuel: Number(1_000_000n - (fuel.value as bigint)) };
  };
  const a = used(10);
  const b = used(20);
  const c = used(30);
  assert.equal(a.result, 15); // 10 iterations, 5 even ones count twice
  assert.deepEqual(used(10), a);
  assert.ok(b.fuel > a.fuel);
  assert.equal(c.fuel - b.fuel, b.fuel - a.fuel);
});

Deno.test("running out of fuel traps, and the counter says so", async () => {
  const { ex, fuel } = await instantiate(COUNTDOWN);
  fuel.value = 200n;
  assert.throws(() => (ex.x as (n: number) => number)(1_000_000), WebAssembly.RuntimeError);
  assert.ok((fuel.value as bigint) < 0n);
});

Deno.test("features the sandbox does not allow are refused at load", async () => {
  const cases: [string, string, string][] = [
    ["memory64", "(memory i64 1)", ""],
    ["tail calls", "(memory 1)", '(func $g) (func (export "x") (return_call $g))'],
    [
      "exceptions",
      "(memory 1)",
      '(tag $t) (func (export "x") (block $h (try_table (catch_all $h) (throw $t))))',
    ],
    [
      "GC",
      "(memory 1)",
      '(type $s (struct (field i32))) (func (export "x") (result i32) (struct.get $s 0 (struct.new $s (i32.const 1))))',
    ],
    ["shared memory", "(memory 1 1 shared)", ""],
    ["two memories", "(memory 1) (memory 1)", ""],
    ["initial memory over the cap", "(memory 5)", ""],
  ];
  for (const [what, memory, extra] of cases) {
    await assert.rejects(
      instrumentCore(await parse(wat(memory, extra)), BARE_WORLD, LIMITS),
      (e: unknown) => {
        assert.ok(e instanceof ComponentRejectedError, `${what}: ${e}`);
        return true;
      },
      what,
    );
  }
  // Binaryen is still usable after all those refusals.
  const { ex } = await instantiate(COUNTDOWN);
  assert.equal(typeof ex.x, "function");
});

Deno.test("imports other than the host's are refused", async () => {
  const source = wat("(memory 1)", "").replace(
    "(module",
    '(module (import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32)))',
  );
  await assert.rejects(
    instrumentCore(await parse(source), BARE_WORLD, LIMITS),
    /wasi_snapshot_preview1.fd_write/,
  );
});
