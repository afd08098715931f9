/**
 * Resource limits of sandboxed guests, with the node's defaults.
 * @module
 */

/** Per-guest limits. */
export interface SandboxLimits {
  /** Fuel per call (metered instructions); exhaustion fails the call. */
  fuelPerCall: number;
  /** Linear memory cap in 64 KiB pages. */
  memoryPages: number;
}

/** Defaults: 10M fuel per call (well under a millisecond here), 256 pages (16 MiB). */
export const DEFAULT_LIMITS: Readonly<SandboxLimits> = Object.freeze({
  fuelPerCall: 10_000_000,
  memoryPages: 256,
});

/** `configure` and start functions get this many times the per-call fuel. */
export const SETUP_FUEL_FACTOR = 10;
