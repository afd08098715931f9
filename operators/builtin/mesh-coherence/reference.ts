/**
 * The mesh-coherence computation in TypeScript: what the AssemblyScript operator must emit
 * for the same reports at the same logical times. Tests compare the two; it is also the
 * readable statement of the operator's semantics.
 *
 * @example
 * ```ts
 * import { MeshReference } from "./reference.ts";
 *
 * const mesh = new MeshReference();
 * mesh.handle({ node_id: "a", phase: { real: 1, imag: 0 }, coherence: 0.9, weight: 1, tau_ms: 100 }, 0);
 * // { global_phase: { real: 1, imag: 0 }, global_coherence: 0.9, live_nodes: 1, emerged: true }
 * ```
 * @module
 */

/** One node's phase report (the operator's input payload). */
export interface MeshReport {
  node_id: string;
  phase: { real: number; imag: number };
  coherence: number;
  weight: number;
  tau_ms: number;
}

/** The operator's output payload (`mesh.coherence.global`). */
export interface MeshGlobal {
  global_phase: { real: number; imag: number };
  global_coherence: number;
  live_nodes: number;
  emerged: boolean;
}

interface Kept {
  report: MeshReport;
  wallMs: number;
}

/** The mesh's state and its update rule. */
export class MeshReference {
  #nodes: Kept[] = [];

  /**
   * A mesh with the operator's configuration.
   * @param threshold `emergence_threshold` (@default 0.75)
   * @param maxNodes `max_nodes` (@default 1024)
   */
  constructor(readonly threshold = 0.75, readonly maxNodes = 1024) {}

  /** Applies one report carried by a pulse stamped at `wallMs`; returns the global state. */
  handle(report: MeshReport, wallMs: number): MeshGlobal {
    // Expiry first (by this pulse's logical time), so expired nodes make room under maxNodes.
    this.#nodes = this.#nodes.filter((n) => Math.max(0, wallMs - n.wallMs) <= n.report.tau_ms);
    const at = this.#nodes.findIndex((n) => n.report.node_id === report.node_id);
    if (at >= 0) this.#nodes[at] = { report, wallMs };
    else if (this.#nodes.length < this.maxNodes) this.#nodes.push({ report, wallMs });
    let wsum = 0, re = 0, im = 0, csum = 0;
    for (const { report: r } of this.#nodes) {
      wsum += r.weight;
      re += r.phase.real * r.weight;
      im += r.phase.imag * r.weight;
      csum += r.coherence;
    }
    if (wsum > 0) {
      re /= wsum;
      im /= wsum;
    } else {
      re = 0;
      im = 0;
    }
    const n = this.#nodes.length;
    const coherence = n > 0 ? csum / n : 0;
    return {
      global_phase: { real: re, imag: im },
      global_coherence: coherence,
      live_nodes: n,
      emerged: coherence > this.threshold,
    };
  }
}
