/**
 * The shipped `mesh-coherence` operator (THE_ONE mesh): its card, its built component and
 * a TypeScript reference of its computation. See docs/operators.md.
 * @module
 */
import { buildOperatorCached, OPERATOR_BUILD_DIR, REPO_ROOT } from "../../build/mod.ts";

export { type MeshGlobal, MeshReference, type MeshReport } from "./reference.ts";

/** The operator's name (`{"builtin": "mesh-coherence"}`). */
export const MESH_COHERENCE = "mesh-coherence";

/** Its AssemblyScript source. */
export const MESH_COHERENCE_SOURCE: string =
  `${REPO_ROOT}operators/builtin/mesh-coherence/assembly/operator.ts`;

/** Its card (capabilities, input and output JSON Schemas). */
export const MESH_COHERENCE_CARD: {
  capabilities: string[];
  input_schema: Record<string, unknown>;
  output_schema: Record<string, unknown>;
} = JSON.parse(
  await Deno.readTextFile(`${REPO_ROOT}operators/builtin/mesh-coherence/card.json`),
);

/**
 * The component, built into `build/operators/builtin/mesh-coherence.wasm` when its inputs
 * changed (where `deno task build` puts shipped operators).
 *
 * @example
 * ```ts
 * import { meshCoherenceComponent } from "./mod.ts";
 *
 * const wasm = await meshCoherenceComponent(); // PUT it as the `component` part
 * ```
 */
export function meshCoherenceComponent(): Promise<Uint8Array<ArrayBuffer>> {
  return buildOperatorCached(
    MESH_COHERENCE_SOURCE,
    `${OPERATOR_BUILD_DIR}builtin/${MESH_COHERENCE}.wasm`,
  );
}
