/**
 * From a manifest to running parts: the sandbox limits a manifest asks for (defaults
 * filled in), the module loaded under them, and the `instances` runners of one operator
 * (sharing its figures and its queue group).
 * @module
 */
import { DEFAULT_LIMITS, type Engine, type SandboxLimits } from "../runtime/sandbox/mod.ts";
import type { OperatorManifest } from "./manifest.ts";
import { loadOperator } from "./operator_sandbox.ts";
import { OperatorRunner, type RunnerContext } from "./runner.ts";
import type { OperatorStats } from "./stats.ts";

/** Defaults of the per-operator output limits. */
export const DEFAULT_OUTPUT_LIMITS = Object.freeze({ maxOutputs: 64, maxOutputBytes: 1 << 20 });

/** The module an operator runs, as {@linkcode loadOperatorFor} prepares it. */
export type OperatorModule = Awaited<ReturnType<typeof loadOperator>>;

/** The sandbox limits of `manifest` (fuel per pulse, memory pages; defaults when absent). */
export function sandboxLimitsOf(manifest: OperatorManifest): SandboxLimits {
  const l = manifest.limits ?? {};
  return {
    fuelPerCall: l.fuel ?? DEFAULT_LIMITS.fuelPerCall,
    memoryPages: l.memory_pages ?? DEFAULT_LIMITS.memoryPages,
  };
}

/** Checks and prepares `component` on the node's engine under `manifest`'s limits. */
export function loadOperatorFor(
  engine: Engine,
  component: Uint8Array,
  manifest: OperatorManifest,
): Promise<OperatorModule> {
  return loadOperator(engine, component, sandboxLimitsOf(manifest));
}

/** What the runners of every operator of a host share (the host's side of their context). */
export type RunnerDeps = Omit<RunnerContext, "onFailure" | "stats">;

/**
 * The `instances` runners of operator `name` (not started), sharing `stats`; with more than
 * one, their state is read-only (docs/operators.md, "Instances").
 */
export function makeRunners(
  name: string,
  module: OperatorModule,
  manifest: OperatorManifest,
  stats: OperatorStats,
  deps: RunnerDeps,
  onFailure: (reason: string) => void,
): OperatorRunner[] {
  const l = manifest.limits ?? {};
  const limits = sandboxLimitsOf(manifest);
  const instances = manifest.instances ?? 1;
  return Array.from({ length: instances }, (_, instance) =>
    new OperatorRunner({
      name,
      module,
      manifest,
      limits,
      outputLimits: {
        maxOutputs: l.max_outputs ?? DEFAULT_OUTPUT_LIMITS.maxOutputs,
        maxOutputBytes: l.max_output_bytes ?? DEFAULT_OUTPUT_LIMITS.maxOutputBytes,
      },
      instance,
      readOnlyState: instances > 1,
    }, { ...deps, onFailure, stats }));
}
