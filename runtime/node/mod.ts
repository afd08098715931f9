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
export { capacityLine, type ConnectionCapacity } from "./capacity.ts";
export { type ArqonNode, startNode } from "./start.ts";
export { type OpenFileLimit, raiseOpenFileLimit } from "./rlimit.ts";
// The options each layer contributes to `NodeConfig`, so the config's type is whole here.
export type { PolicyOptions } from "../../casil/mod.ts";
export type { OperatorOptions } from "../../operators/mod.ts";
export type { Flag, FlagKind } from "../config/mod.ts";
export type { SecurityOptions } from "../shield/auth/mod.ts";
export type { ShieldFlowOptions, ShieldLimitOptions, ShieldOptions } from "../shield/mod.ts";
export type {
  SpineAnycastOptions,
  SpineLimitOptions,
  SpineNodeOptions,
  SpineQueueOptions,
  SpineTimeOptions,
} from "../spine/mod.ts";
export type { A2aOptions } from "../shield/mod.ts";
export type { PresenceOptions } from "../spine/mod.ts";
export type { StoreDiskOptions } from "../store/mod.ts";
export type { MqttOptions } from "../transport/mqtt/mod.ts";
export type { TcpOptions } from "../transport/tcp/mod.ts";
