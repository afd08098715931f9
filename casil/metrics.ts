/**
 * CASIL's Prometheus metrics, registered on the node's registry.
 * @module
 */
import client from "prom-client";

/** Why a pulse was denied: the policy said so, or one of the fail-closed causes. */
export type DenialReason =
  | "denied"
  | "fuel_exhausted"
  | "memory_cap"
  | "stack_overflow"
  | "trap"
  | "bad_result"
  | "unavailable"
  /** A redaction grew the payload beyond the largest the node accepts. */
  | "too_large";

/**
 * Per-policy counts kept as plain numbers on the hot path (a prom-client `inc` with labels
 * costs more than a small policy call); reported to the registry when it is scraped.
 */
export interface PolicyStats {
  /** Pulses the policy inspected. */
  evaluations: number;
  /** Pulses whose payload it replaced. */
  redactions: number;
  /** Guest calls that decided a batch of pulses (the batch side ABI). */
  batches: number;
}

interface Reported extends PolicyStats {
  reportedEvaluations: number;
  reportedRedactions: number;
  reportedBatches: number;
}

/** Counters of policy evaluation. */
export class CasilMetrics {
  /** Pulses denied, per policy and reason. */
  readonly denials: client.Counter<"policy" | "reason">;
  /** Payloads rewritten, per policy. */
  readonly redactions: client.Counter<"policy">;
  /** Policy evaluations, per policy. */
  readonly evaluations: client.Counter<"policy">;
  /** Instances discarded after a failure and rebuilt, per policy. */
  readonly instanceRestarts: client.Counter<"policy">;
  /** Batch calls decided by the policy, per policy. */
  readonly batchCalls: client.Counter<"policy">;
  /** Batch calls that failed, whose pulses were decided again one at a time, per policy. */
  readonly batchFallbacks: client.Counter<"policy">;
  /** Installed policies. */
  readonly policies: client.Gauge;
  readonly #stats = new Map<string, Reported>();

  /** Registers the families on `registry` (a fresh one when absent). */
  constructor(registry: client.Registry = new client.Registry()) {
    const registers = [registry];
    this.denials = new client.Counter({
      name: "arqon_policy_denials_total",
      help: "Pulses denied by CASIL, per policy and reason (denied or a fail-closed cause).",
      labelNames: ["policy", "reason"],
      registers,
    });
    const stats = this.#stats;
    this.redactions = new client.Counter({
      name: "arqon_policy_redactions_total",
      help: "Payloads rewritten by a policy.",
      labelNames: ["policy"],
      registers,
      collect() {
        for (const [policy, s] of stats) {
          if (s.redactions > s.reportedRedactions) {
            this.labels(policy).inc(s.redactions - s.reportedRedactions);
            s.reportedRedactions = s.redactions;
          }
        }
      },
    });
    this.evaluations = new client.Counter({
      name: "arqon_policy_evaluations_total",
      help: "Policy evaluations.",
      labelNames: ["policy"],
      registers,
      collect() {
        for (const [policy, s] of stats) {
          if (s.evaluations > s.reportedEvaluations) {
            this.labels(policy).inc(s.evaluations - s.reportedEvaluations);
            s.reportedEvaluations = s.evaluations;
          }
        }
      },
    });
    this.instanceRestarts = new client.Counter({
      name: "arqon_policy_instance_restarts_total",
      help: "Policy instances discarded after a trap, fuel exhaustion or memory cap.",
      labelNames: ["policy"],
      registers,
    });
    this.batchCalls = new client.Counter({
      name: "arqon_policy_batch_calls_total",
      help: "Guest calls that decided several pulses at once (the batch side ABI).",
      labelNames: ["policy"],
      registers,
      collect() {
        for (const [policy, s] of stats) {
          if (s.batches > s.reportedBatches) {
            this.labels(policy).inc(s.batches - s.reportedBatches);
            s.reportedBatches = s.batches;
          }
        }
      },
    });
    this.batchFallbacks = new client.Counter({
      name: "arqon_policy_batch_fallbacks_total",
      help: "Batch calls that failed (fuel, memory cap, trap): their pulses were decided " +
        "again one at a time, each with a budget of its own.",
      labelNames: ["policy"],
      registers,
    });
    this.policies = new client.Gauge({
      name: "arqon_policies",
      help: "Installed CASIL policies.",
      registers,
    });
  }

  /** The live counts of `policy` (kept after it is deleted: counters never go down). */
  stats(policy: string): PolicyStats {
    let s = this.#stats.get(policy);
    if (!s) {
      s = {
        evaluations: 0,
        redactions: 0,
        batches: 0,
        reportedEvaluations: 0,
        reportedRedactions: 0,
        reportedBatches: 0,
      };
      this.#stats.set(policy, s);
    }
    return s;
  }
}
