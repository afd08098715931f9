/**
 * The publish path's side of CASIL: the `PulseGuard` the Spine calls for every publish. It
 * runs the chain of the installed set it was last given, one pulse at a time or a received
 * message's publishes together. Governance (what is installed) is `engine.ts`, which hands
 * each new set to the guard with {@linkcode PolicyGuard.use}.
 * @module
 */
import type { arqon } from "../runtime/protocol/mod.ts";
import type { GuardVerdict, PulseGuard } from "../runtime/spine/mod.ts";
import { AheadVerdicts } from "./ahead.ts";
import { ChainCache, type Installed } from "./chains.ts";
import { blankInput, evaluateChain, fillInput } from "./evaluate.ts";
import type { CasilMetrics } from "./metrics.ts";
import type { PolicyInput } from "./policy_world.ts";

/**
 * Publishes decided together at most, and at least (2: a session holding one would decide it
 * alone anyway), and about how long deciding them together may take: a session reads a
 * message in slices of a few milliseconds (issue 11), and a held publish runs in one go.
 */
const MAX_AHEAD = 64;
const MIN_AHEAD = 2;
const AHEAD_MS = 1;

/** The node's default `--max-frame-bytes`: what a redaction may produce by default. */
export const DEFAULT_MAX_PAYLOAD_BYTES = 1024 * 1024;
const ALLOW: GuardVerdict = Object.freeze({ allow: true });

/**
 * Runs the chains of one installed set on publishes. A new set replaces the old one as a
 * whole ({@linkcode use}), so a publish sees one consistent set.
 *
 * @example
 * ```ts
 * import { PolicyGuard } from "./guard.ts";
 * import { CasilMetrics } from "./metrics.ts";
 * const guard = new PolicyGuard(new CasilMetrics());
 * guard.inspect({ topic: "a.b", payload: new Uint8Array() }); // { allow: true }: no policies
 * ```
 */
export class PolicyGuard implements PulseGuard {
  /** Where verdicts, denials and restarts are counted. */
  readonly metrics: CasilMetrics;
  /** Largest payload a redaction may produce. */
  readonly maxPayloadBytes: number;
  /** Chains of the current set; a new cache on every change. */
  #chains = new ChainCache(new Map());
  /** Reused for every call: `inspect` is synchronous and guests cannot re-enter it. */
  readonly #input: PolicyInput = blankInput();
  /**
   * How many publishes a session holds for one {@linkcode inspectAhead} (the Spine's
   * `aheadLimit`): as many as took about a millisecond to decide last time, 2 to 64.
   */
  aheadLimit: number = MAX_AHEAD;
  /** One message's verdicts decided ahead of its publishes; open between the two hooks. */
  readonly #ahead = new AheadVerdicts();
  #aheadOpen = false;

  /**
   * A guard with no policies. `maxPayloadBytes` is the node's `--max-frame-bytes`, so a
   * policy cannot make a pulse larger than any publish could be.
   */
  constructor(metrics: CasilMetrics, maxPayloadBytes: number = DEFAULT_MAX_PAYLOAD_BYTES) {
    this.metrics = metrics;
    this.maxPayloadBytes = maxPayloadBytes;
  }

  /**
   * Runs `policies` from now on (the map must not change afterwards). For the engine that
   * governs the set, not for users.
   * @ignore
   */
  protected use(policies: ReadonlyMap<string, Installed>): void {
    this.#chains = new ChainCache(policies);
  }

  /** The policies that run for (reality, topic), in order. */
  chain(reality: string, topic: string): string[] {
    return this.#chains.chain(reality, topic).map((p) => p.record.name);
  }

  /** Runs the chain for one pulse (the Spine's `PulseGuard` hook). */
  inspect(pulse: arqon.v1.IPulse): GuardVerdict {
    if (this.#aheadOpen) {
      const decided = this.#ahead.take(pulse, this.#chains);
      if (decided) return decided;
    }
    const reality = pulse.realityId || "default";
    const topic = pulse.topic ?? "";
    const chain = this.#chains.chain(reality, topic);
    if (chain.length === 0) return ALLOW;
    fillInput(this.#input, pulse, reality, topic);
    return evaluateChain(this, chain, this.#input);
  }

  /**
   * Decides one received message's publishes together (the Spine's `inspectAhead` hook):
   * runs of pulses with the same chain go to each policy in as few guest calls as it allows
   * (see `evaluate_batch.ts`); `inspect` then answers each of them from here.
   */
  inspectAhead(pulses: readonly arqon.v1.IPulse[], count: number, producerId: string): void {
    const t0 = performance.now();
    this.#ahead.decide(this, this.#chains, pulses, count, producerId);
    this.#aheadOpen = true;
    // Sessions hold as many publishes as take about AHEAD_MS to decide, at the last cost.
    const ms = performance.now() - t0;
    this.aheadLimit = ms <= 0
      ? MAX_AHEAD
      : Math.max(MIN_AHEAD, Math.min(MAX_AHEAD, Math.floor(count * AHEAD_MS / ms)));
  }

  /** Forgets what {@linkcode inspectAhead} decided. */
  clearAhead(): void {
    this.#aheadOpen = false;
    this.#ahead.clear();
  }
}
