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
import { PolicyInstance } from "./policy_instance.ts";
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
  #instance: PolicyInstance | null;
  readonly #logger?: GuestLogger;

  /** Instantiates and configures now, so a bad configuration is refused at once. */
  constructor(module: Module, config = "{}", logger?: GuestLogger) {
    this.module = module;
    this.config = config;
    this.#logger = logger;
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

  /** Evaluates one pulse; throws {@linkcode SandboxTrapError} when the guest fails. */
  evaluate(input: PolicyInput): PolicyVerdict {
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
