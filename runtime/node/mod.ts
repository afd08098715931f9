/**
 * The node: the wiring of every layer (`startNode`), its listeners, its shutdown and its
 * configuration (each layer contributes its flags; `NODE_FLAGS` is their concatenation).
 * Nothing but the root `mod.ts`, tests, benchmarks and scripts imports this folder.
 * @module
 */
export { helpText, parseConfig, type ParsedConfig } from "./cli.ts";
export {
  DEFAULT_CONFIG,
  type ListenOptions,
  NODE_FLAGS,
  type NodeConfig,
  type RunOptions,
  type ShmOptions,
} from "./config.ts";
export { type ArqonNode, startNode } from "./start.ts";
