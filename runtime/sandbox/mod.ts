/**
 * The generic Wasm sandbox, named after what lives how long (as wasmtime does): an
 * {@linkcode Engine} per node (the module cache and the instrumenter worker), a
 * {@linkcode Module} per guest (checked against a world's signature table, fuel-metered,
 * memory-capped), an {@linkcode Instance} per live copy (guest memory, fuel, trap
 * classification). A world's adapter (CASIL's policy world, the operator world) supplies its
 * {@linkcode WorldSpec} and its host-import table; nothing here knows a particular world.
 *
 * @example
 * ```ts ignore
 * const engine = new Engine();
 * const module = await engine.load(component, MY_WORLD);
 * const instance = module.instantiate(myHostImports);
 * instance.begin(BigInt(module.limits.fuelPerCall));
 * try {
 *   (instance.exports.run as () => void)();
 * } catch (e) {
 *   throw instance.fail(e); // SandboxTrapError: fuel_exhausted, memory_cap, ...
 * }
 * ```
 * @module
 */
export {
  ComponentRejectedError,
  type RejectCode,
  SandboxTrapError,
  type TrapKind,
} from "./errors.ts";
export { DEFAULT_LIMITS, type SandboxLimits, SETUP_FUEL_FACTOR } from "./limits.ts";
export { Engine, type EngineOptions } from "./engine.ts";
export { Module } from "./module.ts";
export { Instance } from "./instance.ts";
export {
  type ExportSpec,
  type HostFunction,
  hostImportProblems,
  type HostImports,
  sameSignature,
  type Signature,
  signatureText,
  type ValType,
  worldName,
  type WorldSpec,
} from "./world.ts";
export { componentWorldProblems, extractCore } from "./component.ts";
export { instrumentCore } from "./instrument.ts";
export { PulseRandom, toBigInt } from "./random.ts";
export { type GuestLogger, HOST_MODULE, HOST_SIGNATURES, HostInterface } from "./host_interface.ts";
export { ALLOC_EXPORT, FUEL_EXPORT, GROW_REFUSED_EXPORT, MEMORY_EXPORT } from "./names.ts";
export { capMemory, type MemoryDecl } from "./wasm_sections.ts";
