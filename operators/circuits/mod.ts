/**
 * Circuits: typed pipelines of operators (`PUT /v1/realities/{r}/circuits/{name}`), checked
 * hop by hop at publication (schema compatibility) and at run time (each consumer's input
 * schema), installed and replaced atomically, kept with the node.
 * @module
 */
export { checkCompatible, type Incompatibility } from "./compat.ts";
export {
  type BuiltinStage,
  CIRCUIT_NAME,
  type CircuitSpec,
  type Hop,
  hopsOf,
  MAX_STAGES,
  parseCircuit,
  type StageSpec,
} from "./spec.ts";
export {
  CircuitHost,
  type CircuitHostOptions,
  type CircuitStatus,
  HopError,
  type HopStatus,
  stageOperatorName,
} from "./host.ts";
export { circuitRoutes, type CircuitRoutesOptions } from "./http.ts";
