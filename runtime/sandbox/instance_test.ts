import assert from "node:assert/strict";
import { BusError } from "../protocol/mod.ts";
import {
  ComponentRejectedError,
  Engine,
  type Instance,
  type Module,
  SandboxTrapError,
  type TrapKind,
} from "./mod.ts";
import { PROBE_IMPORTS, PROBE_WORLD, probeModule } from "./testdata/probe.ts";

const engine = new Engine();
const LIMITS = { fuelPerCall: 1_000_000, memoryPages: 4 };
const module: Module = await engine.loadCore(await probeModule(), PROBE_WORLD, LIMITS);

/** Calls export `name` of `instance` with `budget` fuel, as an adapter does. */
function call(instance: Instance, name: string, budget: bigint, ...args: number[]): unknown {
  instance.begin(budget);
  try {
    return (instance.exports[name] as (...a: number[]) => unknown)(...args);
  } catch (e) {
    throw instance.fail(e);
  }
}

function trapKind(name: string, budget = 1_000_000n): { kind: TrapKind; error: SandboxTrapError } {
  const instance = module.instantiate(PROBE_IMPORTS);
  try {
    call(instance, name, budget, 0);
  } catch (e) {
    assert.ok(e instanceof SandboxTrapError, `expected a trap, got ${e}`);
    assert.equal(instance.alive, false);
    return { kind: e.kind, error: e };
  }
  assert.fail(`${name} did not fail`);
}

Deno.test("traps are classified: fuel, memory cap, stack overflow, unreachable, other", () => {
  const fuel = trapKind("spin");
  assert.equal(fuel.kind, "fuel_exhausted");
  assert.equal(fuel.error.message, "fuel exhausted (budget 1000000)");
  const memory = trapKind("grow");
  assert.equal(memory.kind, "memory_cap");
  assert.match(memory.error.message, /^memory cap of 4 pages reached \(unreachable\)$/);
  // Enough fuel that the stack, not the fuel, runs out first.
  assert.equal(trapKind("recurse", 10n ** 12n).kind, "stack_overflow");
  const unreachable = trapKind("boom");
  assert.equal(unreachable.kind, "unreachable");
  assert.equal(unreachable.error.message, "trap: unreachable");
  const other = trapKind("div");
  assert.equal(other.kind, "trap");
  assert.match(other.error.message, /^trap: divide by zero/);
  assert.ok(other.error instanceof BusError);
  assert.equal(other.error.code, "INTERNAL");
});

Deno.test("a failed instance is discarded; a new one from the same module works", () => {
  const instance = module.instantiate(PROBE_IMPORTS);
  assert.throws(() => call(instance, "boom", 1000n), SandboxTrapError);
  assert.throws(() => call(instance, "run", 1000n, 1), /discarded after a failure/);
  const fresh = module.instantiate(PROBE_IMPORTS);
  assert.equal(call(fresh, "run", 1000n, 1), 2);
  fresh.discard();
  assert.equal(fresh.alive, false);
});

Deno.test("fuel is set per call and what a call used can be read back", () => {
  const instance = module.instantiate(PROBE_IMPORTS);
  assert.equal(call(instance, "run", 1000n, 5), 6);
  const used = instance.lastFuelUsed;
  assert.ok(used > 0 && used < 100, `used ${used}`);
  assert.equal(instance.fuel, 1000n - BigInt(used));
  call(instance, "run", 50n, 5);
  assert.equal(instance.lastFuelUsed, used);
  instance.fuel = 7n;
  assert.equal(instance.fuel, 7n);
});

Deno.test("guest memory: allocate through the guest, write and read bytes and strings", () => {
  const instance = module.instantiate(PROBE_IMPORTS);
  instance.begin(1_000_000n);
  const a = instance.writeString("topic.a");
  assert.equal(instance.lastLength, 7);
  const b = instance.writeString("grüße, wörld ".repeat(30));
  const bLen = instance.lastLength;
  assert.equal(bLen, new TextEncoder().encode("grüße, wörld ".repeat(30)).length);
  const c = instance.writeBytes(new Uint8Array([1, 2, 3]), 1);
  const d = instance.alloc(16, 8);
  assert.equal(d % 8, 0);
  instance.view.setUint32(d, 0xdeadbeef, true);
  assert.equal(instance.readString(a, 7, "a"), "topic.a");
  assert.equal(instance.readString(b, bLen, "b"), "grüße, wörld ".repeat(30));
  assert.deepEqual(instance.readBytes(c, 3, "c"), new Uint8Array([1, 2, 3]));
  assert.equal(instance.bytes[d], 0xef);
  assert.equal(instance.memory.buffer.byteLength, 65536);
  const outside = () => instance.readBytes(65530, 10, "the thing");
  assert.throws(outside, (e: unknown) => {
    assert.ok(e instanceof SandboxTrapError);
    assert.equal(e.kind, "bad_result");
    assert.equal(e.message, "the thing points outside guest memory");
    return true;
  });
});

Deno.test("memory views follow a grown memory after refresh", async () => {
  const growing = await engine.loadCore(
    await probeModule(
      "(memory 1)",
      '(func (export "grow1") (result i32) (memory.grow (i32.const 1)))',
    ),
    PROBE_WORLD,
    LIMITS,
  );
  const instance = growing.instantiate(PROBE_IMPORTS);
  assert.equal(call(instance, "grow1", 1000n), 1);
  instance.refresh();
  assert.equal(instance.bytes.length, 2 * 65536);
  assert.equal(instance.view.byteLength, 2 * 65536);
});

Deno.test("a start function that traps refuses the instance", async () => {
  const trapping = await engine.loadCore(
    await probeModule("(memory 1)", "(func $start unreachable) (start $start)"),
    PROBE_WORLD,
    LIMITS,
  );
  assert.throws(() => trapping.instantiate(PROBE_IMPORTS), (e: unknown) => {
    assert.ok(e instanceof ComponentRejectedError);
    assert.equal(e.reason, "start_failed");
    assert.equal(e.message, "the start function failed: unreachable");
    return true;
  });
});
