/**
 * The Wasm sandbox: loads components of world `arqon:bus/policy` (checked, fuel-metered,
 * memory-capped, cached by content hash) and runs them through a thin host adapter.
 * @module
 */
export {
  ComponentRejectedError,
  type RejectCode,
  SandboxTrapError,
  type TrapKind,
} from "./errors.ts";
export { DEFAULT_LIMITS, type SandboxLimits, SETUP_FUEL_FACTOR } from "./limits.ts";
export {
  type GuestLogger,
  instrumentPolicyCore,
  type LoadOptions,
  loadPolicyModule,
  type PolicyInput,
  PolicyInstance,
  PolicyModule,
  type PolicyVerdict,
} from "./policy_module.ts";
export { extractPolicyCore, POLICY_WORLD_EXPORTS, policyWorldProblems } from "./component.ts";
export { FUEL_EXPORT, GROW_REFUSED_EXPORT } from "./names.ts";
export { capMemory, type MemoryDecl } from "./wasm_sections.ts";
export { PolicySandbox } from "./policy_sandbox.ts";
