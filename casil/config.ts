/**
 * CASIL's node options, in the shape of the node's flag table (`--policy-*`).
 * @module
 */
import type { Flag } from "../runtime/config/mod.ts";
import { DEFAULT_LIMITS } from "../runtime/sandbox/mod.ts";

/** Default upload limit: 4 MiB. */
export const DEFAULT_MAX_UPLOAD_BYTES = 4 * 1024 * 1024;

/** Policy limits of a node; every one has a flag. */
export interface PolicyOptions {
  /**
   * Fuel (metered instructions) per policy call.
   * @default {10000000}
   */
  policyFuel: number;
  /**
   * Linear memory cap of a policy instance, in 64 KiB pages.
   * @default {256}
   */
  policyMemoryPages: number;
  /**
   * Largest accepted policy component, in bytes.
   * @default {4194304}
   */
  policyMaxUploadBytes: number;
}

/** Defaults of {@linkcode PolicyOptions}. */
export const POLICY_DEFAULTS: Readonly<PolicyOptions> = Object.freeze({
  policyFuel: DEFAULT_LIMITS.fuelPerCall,
  policyMemoryPages: DEFAULT_LIMITS.memoryPages,
  policyMaxUploadBytes: DEFAULT_MAX_UPLOAD_BYTES,
});

/** The policy limits as flags (`--policy-*`); the node adds them to its table. */
export const POLICY_FLAGS: readonly Flag<keyof PolicyOptions>[] = Object.freeze([
  {
    key: "policyFuel",
    flag: "policy-fuel",
    kind: "int",
    env: "ARQON_POLICY_FUEL",
    help: "fuel (metered Wasm instructions) per policy call; exhausting it denies the pulse",
  },
  {
    key: "policyMemoryPages",
    flag: "policy-memory-pages",
    kind: "int",
    env: "ARQON_POLICY_MEMORY_PAGES",
    help: "memory cap of a policy instance in 64 KiB pages",
  },
  {
    key: "policyMaxUploadBytes",
    flag: "policy-max-upload-bytes",
    kind: "int",
    env: "ARQON_POLICY_MAX_UPLOAD_BYTES",
    help: "largest accepted policy component (PUT /v1/policies/{name})",
  },
]);
