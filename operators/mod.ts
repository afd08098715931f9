/**
 * Tier-Ω operators: Wasm components of world `arqon:bus/operator` that compute on the pulses
 * of their inputs inside the node, on the generic sandbox (the second adapter beside CASIL's
 * policy world), with durable key-value state committed with each pulse's outputs.
 * @module
 */
export {
  OPERATOR_STATE_SIGNATURES,
  OPERATOR_WORLD,
  type OperatorPulse,
  type OperatorSpectral,
  PULSE_RECORD_SIZE,
} from "./world.ts";
export { OperatorInstance, type OutputLimits } from "./operator_instance.ts";
export { type HandleResult, loadOperator, OperatorSandbox } from "./operator_sandbox.ts";
export { OperatorState, type StateChanges } from "./state.ts";
export { OPERATOR_DEFAULTS, OPERATOR_FLAGS, type OperatorOptions } from "./config.ts";
export {
  inputGroup,
  type ManifestLimits,
  OPERATOR_NAME,
  type OperatorManifest,
  parseManifest,
} from "./manifest.ts";
export { OperatorHost } from "./host.ts";
export type {
  OperatorChange,
  OperatorFigures,
  OperatorHostOptions,
  OperatorStatus,
  OperatorStatusName,
  OperatorVersion,
} from "./host_types.ts";
export { DEFAULT_OUTPUT_LIMITS } from "./runner_factory.ts";
export { OperatorRunner } from "./runner.ts";
export { HANDLE_BUCKETS_S, type OperatorCounters, OperatorStats } from "./stats.ts";
export {
  encodeSnapshot,
  type OperatorSnapshot,
  parseSnapshot,
  SNAPSHOT_VERSION,
} from "./snapshot.ts";
export { registerOperatorMetrics } from "./metrics.ts";
export {
  BUILTIN_BUILD_DIR,
  BUILTIN_SOURCE_DIR,
  builtinNames,
  type BuiltinOperator,
  loadBuiltin,
} from "./builtin/mod.ts";
export { operatorRoutes, type OperatorRoutesOptions } from "./http.ts";
export { childTraceparent, DEFAULT_MAX_HOPS, HOPS_HEADER, hopsOf } from "./trace.ts";
export {
  checkCompatible,
  CircuitHost,
  type CircuitHostOptions,
  circuitRoutes,
  type CircuitSpec,
  type CircuitStatus,
  HopError,
  type HopStatus,
  parseCircuit,
  stageOperatorName,
} from "./circuits/mod.ts";
