/**
 * A run of pulses with the same chain, decided together: policy by policy, every pulse still
 * undecided goes to the policy in as few guest calls as its batch side ABI allows (see
 * `policy_batch.ts`); a policy without it gets them one at a time. Each pulse gets exactly
 * the verdict it would get alone, in the same order of calls per policy: the first deny
 * wins, a redaction replaces its payload for the rest of the chain, a redaction past the
 * payload limit denies (`too_large`).
 *
 * Limits: a batch runs on ONE call's fuel budget and in one instance's memory cap, so no
 * pulse in it can use more than a call of its own could. When a batch call fails for any
 * reason (fuel, memory cap, trap, a bad result), nothing of it is used: its pulses are
 * decided again one at a time on a fresh instance, each with a budget of its own. A pulse
 * that fails alone is denied and reported as it always was (restart and denial counted);
 * the others get their own verdicts. The batch's failure is counted in
 * `arqon_policy_batch_fallbacks_total`.
 * @module
 */
import type { GuardVerdict } from "../runtime/spine/mod.ts";
import type { Installed } from "./chains.ts";
import { apply, evaluateChain, type EvaluationContext, failed, unavailable } from "./evaluate.ts";
import type { PolicyInput, PolicyVerdict } from "./policy_world.ts";

const ALLOW: GuardVerdict = Object.freeze({ allow: true });

/**
 * A batch's payloads together stay under this share of the memory cap: the guest holds them
 * all, with what it allocates for each, until the call ends.
 */
const MEMORY_SHARE = 8;

/** Scratch of batch evaluation, reused call after call (evaluation is synchronous). */
export class BatchScratch {
  /** Indices (into the run) of the pulses still undecided. */
  live: number[] = [];
  /** The next policy's undecided pulses. */
  next: number[] = [];
  /** The inputs of one guest call. */
  readonly inputs: PolicyInput[] = [];
  /** Their verdicts. */
  readonly verdicts: PolicyVerdict[] = [];
  /** The run's payloads as they came in (emptied after each run). */
  readonly originals: Uint8Array[] = [];
}

/**
 * Decides `inputs[0..n)`, whose pulses share `chain`, into `out[0..n)` (a redaction also
 * replaces the input's payload, as {@linkcode evaluateChain} does).
 */
export function evaluateChainBatch(
  ctx: EvaluationContext,
  chain: readonly Installed[],
  inputs: readonly PolicyInput[],
  n: number,
  out: GuardVerdict[],
  scratch: BatchScratch,
): void {
  if (n === 1) {
    out[0] = evaluateChain(ctx, chain, inputs[0]);
    return;
  }
  const originals = scratch.originals;
  for (let i = 0; i < n; i++) originals[i] = inputs[i].payload;
  let live = scratch.live;
  live.length = 0;
  for (let i = 0; i < n; i++) live.push(i);
  for (const p of chain) {
    if (live.length === 0) break;
    if (!p.sandbox) {
      for (const i of live) out[i] = unavailable(ctx, p);
      live.length = 0;
      break;
    }
    p.stats.evaluations += live.length;
    const next = scratch.next;
    next.length = 0;
    const sandbox = p.sandbox;
    const memoryShare = p.sandbox.module.limits.memoryPages * 65536 / MEMORY_SHARE;
    let k = 0;
    while (k < live.length) {
      // The next batch: up to the sandbox's limit, its payloads within the memory share.
      let end = k;
      let bytes = 0;
      const limit = sandbox.batches ? sandbox.batchLimit : 1;
      while (end < live.length && end - k < limit) {
        const size = inputs[live[end]].payload.length;
        if (end > k && bytes + size > memoryShare) break;
        bytes += size;
        end++;
      }
      if (end - k >= 2 && decideBatch(ctx, p, inputs, live, k, end, out, next, scratch)) {
        k = end;
        continue;
      }
      // One at a time: a policy without batches, a batch of one, or a failed batch.
      for (; k < end; k++) {
        const i = live[k];
        let verdict;
        try {
          verdict = sandbox.evaluate(inputs[i]);
        } catch (e) {
          out[i] = failed(ctx, p, e);
          continue;
        }
        const denied = apply(ctx, p, verdict, inputs[i]);
        if (denied) out[i] = denied;
        else next.push(i);
      }
    }
    scratch.next = live;
    scratch.live = live = next;
  }
  for (const i of live) {
    out[i] = inputs[i].payload !== originals[i]
      ? { allow: true, payload: inputs[i].payload }
      : ALLOW;
  }
  // The scratch must not keep payloads alive.
  for (let i = 0; i < n; i++) originals[i] = EMPTY;
}

const EMPTY = new Uint8Array(0);

/**
 * One guest call for the pulses `live[from..to)`; false when it failed (nothing applied:
 * the caller decides them one at a time).
 */
function decideBatch(
  ctx: EvaluationContext,
  p: Installed,
  inputs: readonly PolicyInput[],
  live: readonly number[],
  from: number,
  to: number,
  out: GuardVerdict[],
  next: number[],
  scratch: BatchScratch,
): boolean {
  const batch = scratch.inputs;
  const verdicts = scratch.verdicts;
  const n = to - from;
  for (let j = 0; j < n; j++) batch[j] = inputs[live[from + j]];
  try {
    p.sandbox!.evaluateBatch(batch, n, verdicts);
  } catch {
    ctx.metrics.batchFallbacks.labels(p.record.name).inc();
    return false;
  } finally {
    // The scratch must not keep pulses alive.
    for (let j = 0; j < n; j++) batch[j] = undefined as unknown as PolicyInput;
  }
  p.stats.batches++;
  for (let j = 0; j < n; j++) {
    const i = live[from + j];
    const denied = apply(ctx, p, verdicts[j], inputs[i]);
    if (denied) out[i] = denied;
    else next.push(i);
    verdicts[j] = undefined as unknown as PolicyVerdict;
  }
  return true;
}
