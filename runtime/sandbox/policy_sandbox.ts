/**
 * A policy with its configuration and one live instance, replaced after any failure.
 * @module
 */
import { ComponentRejectedError, SandboxTrapError } from "./errors.ts";
import type {
  GuestLogger,
  PolicyInput,
  PolicyInstance,
  PolicyModule,
  PolicyVerdict,
} from "./policy_module.ts";

/**
 * Runs one configured policy. A trap, fuel exhaustion or memory cap hit discards the instance;
 * the next call builds a fresh one (and runs `configure` again), so no state survives a
 * failure.
 */
export class PolicySandbox {
  /** The compiled module. */
  readonly module: PolicyModule;
  /** The configuration given to `configure`. */
  readonly config: string;
  /** How many instances were discarded after a failure. */
  discarded = 0;
  #instance: PolicyInstance | null;
  readonly #logger?: GuestLogger;

  /** Instantiates and configures now, so a bad configuration is refused at once. */
  constructor(module: PolicyModule, config = "{}", logger?: GuestLogger) {
    this.module = module;
    this.config = config;
    this.#logger = logger;
    this.#instance = module.instantiate(config, logger);
  }

  /** Fuel used by the last successful call. */
  get lastFuelUsed(): number {
    return this.#instance?.lastFuelUsed ?? 0;
  }

  /** Evaluates one pulse; throws {@linkcode SandboxTrapError} when the guest fails. */
  evaluate(input: PolicyInput): PolicyVerdict {
    let instance = this.#instance;
    if (instance === null || !instance.alive) {
      try {
        instance = this.#instance = this.module.instantiate(this.config, this.#logger);
      } catch (e) {
        this.#instance = null;
        const detail = e instanceof ComponentRejectedError ? e.message : String(e);
        throw new SandboxTrapError("trap", `cannot rebuild the instance: ${detail}`);
      }
    }
    try {
      return instance.evaluate(input);
    } finally {
      if (!instance.alive) {
        this.#instance = null;
        this.discarded++;
      }
    }
  }
}
