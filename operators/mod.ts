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
  PULSE_RECORD_SIZE,
} from "./world.ts";
export { OperatorInstance, type OutputLimits } from "./operator_instance.ts";
export { type HandleResult, loadOperator, OperatorSandbox } from "./operator_sandbox.ts";
export { OperatorState, type StateChanges } from "./state.ts";
