/**
 * A policy with its configuration and one live instance, replaced after any failure; and the
 * policy world's way to load a component on a sandbox engine.
 * @module
 */
import {
  ComponentRejectedError,
  DEFAULT_LIMITS,
  type Engine,
  type Module,
  type SandboxLimits,
  SandboxTrapError,
} from "../runtime/sandbox/mod.ts";
import { offersBatches, PolicyInstance } from "./policy_instance.ts";
import {
  type GuestLogger,
  POLICY_WORLD,
  type PolicyInput,
  type PolicyVerdict,
} from "./policy_world.ts";

/**
 * Checks, instruments and compiles a policy component on `engine` (cached by content hash
 * and limits). Throws {@linkcode ComponentRejectedError} naming what is wrong.
 *
 * @example
 * ```ts ignore
 * const engine = new Engine();
 * const sandbox = new PolicySandbox(await loadPolicy(engine, component), '{"max_bytes": 10}');
 * const verdict = sandbox.evaluate(input); // { kind: "allow" } | { kind: "deny", reason } | ...
 * ```
 */
export function loadPolicy(
  engine: Engine,
  component: Uint8Array,
  limits: SandboxLimits = DEFAULT_LIMITS,
): Promise<Module> {
  return engine.load(component, POLICY_WORLD, limits);
}

/** The most pulses one batch call decides. */
export const MAX_BATCH = 64;

/**
 * Runs one configured policy. A trap, fuel exhaustion or memory cap hit discards the instance;
 * the next call builds a fresh one (and runs `configure` again), so no state survives a
 * failure.
 */
export class PolicySandbox {
  /** The compiled module. */
  readonly module: Module;
  /** The configuration given to `configure`. */
  readonly config: string;
  /** How many instances were discarded after a failure. */
  discarded = 0;
  /**
   * Whether the policy decides many pulses in one call (it exports the batch side ABI and
   * imports no per-pulse host function): see {@linkcode evaluateBatch}.
   */
  readonly batches: boolean;
  /**
   * How many pulses the next batch may hold. A batch shares one call's fuel: after a
   * batch ran out of anything it is cut to a quarter (1: pulses go one at a time), after a
   * success it doubles, up to what the fuel the last batch used per pulse leaves room for
   * (half the budget) and {@linkcode MAX_BATCH}.
   */
  batchLimit: number = MAX_BATCH;
  #instance: PolicyInstance | null;
  readonly #logger?: GuestLogger;

  /** Instantiates and configures now, so a bad configuration is refused at once. */
  constructor(module: Module, config = "{}", logger?: GuestLogger) {
    this.module = module;
    this.config = config;
    this.#logger = logger;
    this.batches = offersBatches(module);
    this.#instance = this.#instantiate();
  }

  #instantiate(): PolicyInstance {
    const instance = new PolicyInstance(this.module, this.#logger);
    instance.configure(this.config);
    return instance;
  }

  /** Fuel used by the last successful call. */
  get lastFuelUsed(): number {
    return this.#instance?.lastFuelUsed ?? 0;
  }

  #live(): PolicyInstance {
    let instance = this.#instance;
    if (instance === null || !instance.alive) {
      try {
        instance = this.#instance = this.#instantiate();
      } catch (e) {
        this.#instance = null;
        const detail = e instanceof ComponentRejectedError ? e.message : String(e);
        throw new SandboxTrapError("trap", `cannot rebuild the instance: ${detail}`);
      }
    }
    return instance;
  }

  /** Evaluates one pulse; throws {@linkcode SandboxTrapError} when the guest fails. */
  evaluate(input: PolicyInput): PolicyVerdict {
    const instance = this.#live();
    try {
      const verdict = instance.evaluate(input);
      // After a failed batch pulses went one at a time: the next batches grow back slowly.
      if (this.batchLimit < MAX_BATCH) this.batchLimit++;
      return verdict;
    } finally {
      if (!instance.alive) {
        this.#instance = null;
        this.discarded++;
      }
    }
  }

  /**
   * Decides `inputs[0..n)` in ONE guest call (only when {@linkcode batches}), their verdicts
   * into `out`. The batch runs on one call's fuel budget and memory cap, so a pulse of it
   * can never use more than it could alone. Throws {@linkcode SandboxTrapError} when the
   * call failed for any reason (the instance is discarded, not counted in `discarded`: the
   * caller decides the same pulses again one at a time, which reports the pulse that fails
   * alone as it always was).
   */
  evaluateBatch(inputs: readonly PolicyInput[], n: number, out: PolicyVerdict[]): void {
    const instance = this.#live();
    try {
      instance.evaluateBatch(inputs, n, out);
    } catch (e) {
      this.#instance = null;
      this.batchLimit = Math.max(1, this.batchLimit >> 2);
      throw e;
    }
    // Room for twice the fuel this batch used per pulse, within half the budget.
    const perPulse = Math.max(1, instance.lastFuelUsed / n);
    const room = Math.floor(this.module.limits.fuelPerCall / 2 / perPulse);
    this.batchLimit = Math.max(1, Math.min(MAX_BATCH, this.batchLimit * 2, room));
  }
}
