/**
 * CASIL, the Content-Aware Safety & Inspection Layer: Wasm policies bound to realities and
 * topics, run on every publish before sequencing (fail-closed), governed over HTTP with
 * every change in the audit log.
 * @module
 */
export {
  bindingMatches,
  DEFAULT_BINDING,
  normalizeBinding,
  type PolicyBinding,
  topicMatches,
} from "./bindings.ts";
export {
  DEFAULT_MAX_UPLOAD_BYTES,
  type PolicyChange,
  PolicyEngine,
  type PolicyEngineOptions,
  type PutPolicyOptions,
} from "./engine.ts";
export { PolicyError, type PolicyErrorCode } from "./errors.ts";
export { DEFAULT_MAX_PAYLOAD_BYTES, PolicyGuard } from "./guard.ts";
export {
  type GuestLogger,
  POLICY_HOST_SIGNATURES,
  POLICY_WORLD,
  type PolicyInput,
  type PolicyVerdict,
} from "./policy_world.ts";
export { PolicyInstance } from "./policy_instance.ts";
export { loadPolicy, PolicySandbox } from "./policy_sandbox.ts";
export { CasilMetrics, type DenialReason, type PolicyStats } from "./metrics.ts";
export { type PolicyRecord, PolicyStore } from "./store.ts";
export { type AuditView, policyRoutes, type PolicyRoutesOptions } from "./http.ts";
export { BUILTIN_POLICIES, builtinComponent } from "./builtins.ts";
export { POLICY_DEFAULTS, POLICY_FLAGS, type PolicyOptions } from "./config.ts";
export {
  type CallerPrincipal,
  type CasilNode,
  type CasilNodeOptions,
  governanceActor,
  openCasil,
} from "./attach.ts";
