/**
 * Configuration vocabulary shared by every layer: the {@linkcode Flag} type each layer
 * declares its options with. A leaf: it imports nothing.
 * @module
 */
export type { Flag, FlagKind } from "./flag.ts";
