/**
 * Turns a guest's core module into what the sandbox instantiates: checked against its world's
 * signature table, fuel-metered and memory-capped. Runs in this thread or in the engine's
 * worker (`instrument_worker.ts`); Binaryen loads only when a module is instrumented.
 * @module
 */
import { ComponentRejectedError } from "./errors.ts";
import { DEFAULT_LIMITS, type SandboxLimits, SETUP_FUEL_FACTOR } from "./limits.ts";
import { capMemory } from "./wasm_sections.ts";
import type { WorldSpec } from "./world.ts";

/** The message of whatever was thrown. */
export function describeError(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * Checks a core module against `world`, injects fuel metering and caps its memory: the bytes
 * the sandbox compiles. Throws {@linkcode ComponentRejectedError} naming what is wrong.
 */
export async function instrumentCore(
  core: Uint8Array,
  world: WorldSpec,
  limits: SandboxLimits = DEFAULT_LIMITS,
): Promise<Uint8Array> {
  // Binaryen (a large Wasm build) loads only when a guest does.
  const { coreWorldProblems } = await import("./check.ts");
  const { meterFuel, readModule } = await import("./fuel.ts");
  let mod: ReturnType<typeof readModule>;
  try {
    mod = readModule(core);
  } catch (e) {
    throw new ComponentRejectedError(
      "bad_core_module",
      `binaryen cannot read the core module: ${describeError(e)}`,
    );
  }
  let problems;
  try {
    problems = coreWorldProblems(mod, world);
  } catch (e) {
    mod.dispose();
    throw e;
  }
  if (problems.length > 0) {
    mod.dispose();
    throw new ComponentRejectedError(problems[0].code, problems[0].message);
  }
  // The start function runs on the counter's initial value: give it the setup budget.
  const metered = meterFuel(
    mod,
    BigInt(limits.fuelPerCall) * BigInt(SETUP_FUEL_FACTOR),
    limits.memoryPages,
  );
  return capMemory(metered.bytes, limits.memoryPages).bytes;
}
