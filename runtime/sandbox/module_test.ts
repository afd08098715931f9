import assert from "node:assert/strict";
import {
  ComponentRejectedError,
  componentWorldProblems,
  Engine,
  hostImportProblems,
  type HostImports,
  type WorldSpec,
} from "./mod.ts";
import { PROBE_HOST, PROBE_IMPORTS, PROBE_WORLD, probeModule } from "./testdata/probe.ts";

const engine = new Engine();
const LIMITS = { fuelPerCall: 100_000, memoryPages: 4 };

async function refusal(world: WorldSpec, extra = ""): Promise<ComponentRejectedError> {
  try {
    await engine.loadCore(await probeModule("(memory 1)", extra), world, LIMITS);
  } catch (e) {
    assert.ok(e instanceof ComponentRejectedError, `expected a refusal, got ${e}`);
    return e;
  }
  assert.fail("expected the module to be refused");
}

Deno.test("a module whose export has another signature than the world's is refused", async () => {
  const world: WorldSpec = {
    ...PROBE_WORLD,
    exports: { ...PROBE_WORLD.exports, run: { core: { params: ["i64"], results: ["i32"] } } },
  };
  const e = await refusal(world);
  assert.equal(e.reason, "wrong_world");
  assert.equal(e.code, "INVALID_ARGUMENT");
  assert.equal(e.message, "export run has signature (i32) -> (i32), expected (i64) -> (i32)");
});

Deno.test("a module whose import has another signature than the world's is refused", async () => {
  const world: WorldSpec = {
    ...PROBE_WORLD,
    imports: { [PROBE_HOST]: { add: { params: ["i32", "i32"], results: [] } } },
  };
  const e = await refusal(world);
  assert.equal(e.reason, "wrong_world");
  assert.equal(
    e.message,
    "import add has signature (i32, i32) -> (i32), expected (i32, i32) -> ()",
  );
});

Deno.test("missing exports are refused unless optional; unknown imports are refused", async () => {
  const missing = await refusal({
    ...PROBE_WORLD,
    exports: { ...PROBE_WORLD.exports, stop: { core: { params: [], results: [] } } },
  });
  assert.equal(missing.message, "the core module does not export stop");
  const notAFunction = await refusal({
    ...PROBE_WORLD,
    exports: { ...PROBE_WORLD.exports, memory: { core: { params: [], results: [] } } },
  });
  assert.equal(notAFunction.message, "export memory is not a function");
  const noHost = await refusal({ ...PROBE_WORLD, imports: {} });
  assert.match(
    noHost.message,
    /imports test:probe\/host@0.1.0.add, which the host does not provide/,
  );
  // The probe world's optional cabi_post_run is absent from the guest: accepted.
  const module = await engine.loadCore(await probeModule(), PROBE_WORLD, LIMITS);
  assert.equal(module.world, PROBE_WORLD);
});

Deno.test("a host table that does not fit the world is the adapter's bug: TypeError", async () => {
  const module = await engine.loadCore(await probeModule(), PROBE_WORLD, LIMITS);
  const wrong: HostImports = {
    [PROBE_HOST]: { add: { signature: { params: ["i32"], results: ["i32"] }, fn: () => 0 } },
  };
  assert.deepEqual(hostImportProblems(PROBE_WORLD, PROBE_IMPORTS), []);
  assert.deepEqual(hostImportProblems(PROBE_WORLD, {}), [
    "the host table lacks test:probe/host@0.1.0.add",
  ]);
  assert.throws(() => module.instantiate(wrong), TypeError);
  assert.throws(() => module.instantiate({}), /lacks test:probe\/host@0.1.0.add/);
});

Deno.test("the component-level check compares a world block line by line", () => {
  const wit = `package root:component;

world root {
  import test:probe/host@0.1.0;
  import wasi:cli/stdout@0.2.0;

  export run: func(n: u32) -> u64;
  export extra: func();
}
`;
  assert.deepEqual(componentWorldProblems(wit, PROBE_WORLD), [
    "lacks `export run: func(n: u32) -> u32`",
    "exports `export run: func(n: u32) -> u64` which world probe does not have",
    "exports `export extra: func()` which world probe does not have",
    "imports `wasi:cli/stdout@0.2.0` which the host does not provide",
  ]);
  const good =
    "world root {\n  import test:probe/host@0.1.0;\n  export run: func(n: u32) -> u32;\n}";
  assert.deepEqual(componentWorldProblems(good, PROBE_WORLD), []);
});

Deno.test("a bare core module given as a component is refused with the world's build hint", async () => {
  await assert.rejects(
    engine.load(await probeModule(), { ...PROBE_WORLD, buildHint: "wrap it with probe-build" }),
    (e: unknown) => {
      assert.ok(e instanceof ComponentRejectedError);
      assert.equal(e.reason, "not_a_component");
      assert.match(e.message, /not a component: wrap it with probe-build$/);
      return true;
    },
  );
});
