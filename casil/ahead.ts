/**
 * Verdicts decided ahead: the publishes of one received message go through their chains
 * together (runs of consecutive pulses with the same chain, see `evaluate_batch.ts`) before
 * the Spine publishes them one by one; the guard's `inspect` then answers each pulse from
 * here. An answer is used only for the very pulse object it was decided for, still with
 * the reality, topic, producer and payload it was decided on, under the same installed set
 * of policies: anything else is decided again, on its own.
 * @module
 */
import type { arqon } from "../runtime/protocol/mod.ts";
import type { GuardVerdict } from "../runtime/spine/mod.ts";
import type { ChainCache, Installed } from "./chains.ts";
import { blankInput, type EvaluationContext, fillInput } from "./evaluate.ts";
import { BatchScratch, evaluateChainBatch } from "./evaluate_batch.ts";
import type { PolicyInput } from "./policy_world.ts";

const ALLOW: GuardVerdict = Object.freeze({ allow: true });

/** True when chains `a` and `b` hold the same policies in the same order. */
function sameChain(a: readonly Installed[], b: readonly Installed[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** One message's verdicts, decided ahead of its publishes. */
export class AheadVerdicts {
  #count = 0;
  #next = 0;
  #cache: ChainCache | null = null;
  readonly #pulses: (arqon.v1.IPulse | null)[] = [];
  readonly #payloads: (Uint8Array | null | undefined)[] = [];
  readonly #realities: string[] = [];
  readonly #topics: string[] = [];
  #producer = "";
  readonly #verdicts: GuardVerdict[] = [];
  readonly #inputs: PolicyInput[] = [];
  readonly #runOut: GuardVerdict[] = [];
  readonly #scratch = new BatchScratch();

  /** Decides `pulses[0..count)` from `producer` with the chains of `cache`. */
  decide(
    ctx: EvaluationContext,
    cache: ChainCache,
    pulses: readonly arqon.v1.IPulse[],
    count: number,
    producer: string,
  ): void {
    this.clear();
    const inputs = this.#inputs;
    while (inputs.length < count) inputs.push(blankInput());
    let runStart = 0;
    let runChain: Installed[] | null = null;
    for (let i = 0; i <= count; i++) {
      let chain: Installed[] | null = null;
      if (i < count) {
        const pulse = pulses[i];
        const reality = pulse.realityId || "default";
        const topic = pulse.topic ?? "";
        chain = cache.chain(reality, topic);
        this.#pulses[i] = pulse;
        this.#payloads[i] = pulse.payload;
        this.#realities[i] = reality;
        this.#topics[i] = topic;
        if (chain.length > 0) {
          fillInput(inputs[i], pulse, reality, topic);
          // The Spine stamps the publisher's identity before the guard sees a pulse.
          inputs[i].producer = producer;
        }
        if (runChain !== null && sameChain(runChain, chain)) continue;
      }
      // The run [runStart, i) ends here.
      if (runChain !== null) this.#decideRun(ctx, runChain, runStart, i);
      runStart = i;
      runChain = chain;
    }
    this.#producer = producer;
    this.#cache = cache;
    this.#count = count;
  }

  #decideRun(ctx: EvaluationContext, chain: Installed[], from: number, to: number): void {
    const verdicts = this.#verdicts;
    if (chain.length === 0) {
      for (let i = from; i < to; i++) verdicts[i] = ALLOW;
      return;
    }
    const n = to - from;
    const inputs = from === 0 ? this.#inputs : this.#inputs.slice(from, to);
    const out = this.#runOut;
    evaluateChainBatch(ctx, chain, inputs, n, out, this.#scratch);
    for (let j = 0; j < n; j++) verdicts[from + j] = out[j];
  }

  /**
   * The verdict decided for `pulse` (as the guard sees it, producer stamped), or undefined
   * when it was not decided here under `cache`, or no longer looks as it did.
   */
  take(pulse: arqon.v1.IPulse, cache: ChainCache): GuardVerdict | undefined {
    if (cache !== this.#cache) return undefined;
    // Publishes come in order; one refused before the guard is skipped over.
    for (let i = this.#next; i < this.#count; i++) {
      if (this.#pulses[i] !== pulse) continue;
      this.#next = i + 1;
      if (
        pulse.payload !== this.#payloads[i] ||
        (pulse.realityId || "default") !== this.#realities[i] ||
        (pulse.topic ?? "") !== this.#topics[i] || (pulse.producerId ?? "") !== this.#producer
      ) return undefined;
      return this.#verdicts[i];
    }
    return undefined;
  }

  /** Forgets every decision (and the pulses and payloads it held). */
  clear(): void {
    for (let i = 0; i < this.#count; i++) {
      this.#pulses[i] = null;
      this.#payloads[i] = null;
      this.#verdicts[i] = ALLOW;
      this.#inputs[i].payload = EMPTY;
      this.#inputs[i].headers = NO_HEADERS;
    }
    for (let i = 0; i < this.#runOut.length; i++) this.#runOut[i] = ALLOW;
    this.#count = 0;
    this.#next = 0;
    this.#cache = null;
  }
}

const EMPTY = new Uint8Array(0);
const NO_HEADERS: readonly (readonly [string, string])[] = Object.freeze([]);
