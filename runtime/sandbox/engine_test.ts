import assert from "node:assert/strict";
import { BusError } from "../protocol/mod.ts";
import { ComponentRejectedError, Engine } from "./mod.ts";
import { PROBE_IMPORTS, PROBE_WORLD, probeModule } from "./testdata/probe.ts";

const LIMITS = { fuelPerCall: 100_000, memoryPages: 4 };

Deno.test("an engine prepares a module once per content hash, world and limits", async () => {
  const engine = new Engine();
  const bytes = await probeModule();
  const a = await engine.loadCore(bytes, PROBE_WORLD, LIMITS);
  const b = await engine.loadCore(bytes.slice(), PROBE_WORLD, LIMITS);
  assert.equal(a, b);
  assert.equal(engine.cached, 1);
  assert.match(a.digest, /^[0-9a-f]{64}$/);
  const c = await engine.loadCore(bytes, PROBE_WORLD, { ...LIMITS, fuelPerCall: 5 });
  assert.notEqual(a, c);
  assert.equal(a.digest, c.digest);
  const d = await engine.loadCore(bytes, { ...PROBE_WORLD, world: "other" }, LIMITS);
  assert.notEqual(a, d);
  assert.equal(engine.cached, 3);
  // No state outside the engine: another engine prepares its own.
  const other = new Engine();
  assert.notEqual(await other.loadCore(bytes, PROBE_WORLD, LIMITS), a);
  assert.equal((a.instantiate(PROBE_IMPORTS).exports.run as (n: number) => number)(41), 42);
});

Deno.test("the cache keeps at most cacheSize modules and forgets refusals", async () => {
  const engine = new Engine({ cacheSize: 2 });
  const bytes = await probeModule();
  for (const fuel of [1, 2, 3]) {
    await engine.loadCore(bytes, PROBE_WORLD, { ...LIMITS, fuelPerCall: fuel });
  }
  assert.equal(engine.cached, 2);
  const refusing = new Engine();
  await assert.rejects(
    refusing.loadCore(await probeModule("(memory 9)"), PROBE_WORLD, LIMITS),
    (e: unknown) => e instanceof ComponentRejectedError && e.reason === "memory_over_cap",
  );
  assert.equal(refusing.cached, 0);
});

Deno.test("a worker engine instruments the same way, and close ends the worker", async () => {
  const bytes = await probeModule();
  const engine = new Engine({ worker: true });
  const viaWorker = await engine.loadCore(bytes, PROBE_WORLD, LIMITS);
  const run = viaWorker.instantiate(PROBE_IMPORTS).exports.run as (n: number) => number;
  assert.equal(run(1), 2);
  await assert.rejects(
    engine.loadCore(await probeModule("(memory 9)"), PROBE_WORLD, LIMITS),
    (e: unknown) => e instanceof ComponentRejectedError && e.reason === "memory_over_cap",
  );
  // A load in flight when the engine closes fails; so does every later one.
  const inFlight = engine.loadCore(bytes, PROBE_WORLD, { ...LIMITS, fuelPerCall: 7 });
  await new Promise((resolve) => setTimeout(resolve, 10));
  engine.close();
  const shuttingDown = (e: unknown) => e instanceof BusError && e.code === "SHUTTING_DOWN";
  await assert.rejects(inFlight, shuttingDown);
  await assert.rejects(engine.loadCore(bytes, PROBE_WORLD, LIMITS), shuttingDown);
  assert.equal(engine.cached, 0);
  // Modules prepared before the close keep working.
  assert.equal(run(2), 3);
});
