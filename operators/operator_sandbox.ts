/**
 * An operator with its configuration, its state and one live instance, replaced after any
 * failure: a trap, fuel exhaustion or memory cap discards the instance and the call's state
 * writes; the next pulse runs on a fresh instance (after `init`) over the last committed
 * state. And the operator world's way to load a component on a sandbox engine.
 * @module
 */
import {
  ComponentRejectedError,
  DEFAULT_LIMITS,
  type Engine,
  type GuestLogger,
  type Module,
  type SandboxLimits,
  SandboxTrapError,
} from "../runtime/sandbox/mod.ts";
import { OperatorInstance, type OutputLimits } from "./operator_instance.ts";
import type { OperatorState, StateChanges } from "./state.ts";
import { OPERATOR_WORLD, type OperatorPulse } from "./world.ts";

/**
 * Checks, instruments and compiles an operator component on `engine` (cached by content
 * hash and limits). Throws {@linkcode ComponentRejectedError} naming what is wrong.
 *
 * @example
 * ```ts ignore
 * const engine = new Engine();
 * const op = new OperatorSandbox(await loadOperator(engine, component), new OperatorState(1 << 20));
 * const { outputs, changes } = op.handle(pulse, { maxOutputs: 16, maxOutputBytes: 65536 });
 * ```
 */
export function loadOperator(
  engine: Engine,
  component: Uint8Array,
  limits: SandboxLimits = DEFAULT_LIMITS,
): Promise<Module> {
  return engine.load(component, OPERATOR_WORLD, limits);
}

/** What one successful `handle` produced: the pulses to publish and the state writes. */
export interface HandleResult {
  /** Output pulses, in order. */
  readonly outputs: OperatorPulse[];
  /** State writes, already applied to the committed state (persist them with the outputs). */
  readonly changes: StateChanges;
  /** Fuel the call used. */
  readonly fuel: number;
}

/** Runs one configured operator over its state. */
export class OperatorSandbox {
  /** The compiled module. */
  readonly module: Module;
  /** The configuration given to `init`. */
  readonly config: string;
  /** The operator's state (committed plus the current call's writes). */
  readonly state: OperatorState;
  /** How many instances were discarded after a failure. */
  discarded = 0;
  #instance: OperatorInstance | null;
  readonly #logger?: GuestLogger;

  /** Instantiates and runs `init` now, so a bad configuration is refused at once. */
  constructor(module: Module, state: OperatorState, config = "{}", logger?: GuestLogger) {
    this.module = module;
    this.state = state;
    this.config = config;
    this.#logger = logger;
    this.#instance = this.#instantiate();
  }

  #instantiate(): OperatorInstance {
    const instance = new OperatorInstance(this.module, this.state, this.#logger);
    instance.init(this.config);
    return instance;
  }

  #live(): OperatorInstance {
    const instance = this.#instance;
    if (instance !== null && instance.alive) return instance;
    try {
      return this.#instance = this.#instantiate();
    } catch (e) {
      this.#instance = null;
      const detail = e instanceof ComponentRejectedError ? e.message : String(e);
      throw new SandboxTrapError("trap", `cannot rebuild the instance: ${detail}`);
    }
  }

  /**
   * Handles one pulse and commits its state writes. Throws {@linkcode SandboxTrapError}
   * when the guest fails: its writes are dropped and the instance discarded. `check` may
   * refuse the outputs (throwing) before the writes are committed: they are dropped too.
   */
  handle(
    input: OperatorPulse,
    limits: OutputLimits,
    check?: (outputs: OperatorPulse[]) => void,
  ): HandleResult {
    const instance = this.#live();
    try {
      const outputs = instance.handle(input, limits);
      check?.(outputs);
      return { outputs, changes: this.state.commit(), fuel: instance.lastFuelUsed };
    } catch (e) {
      this.state.rollback();
      throw e;
    } finally {
      if (!instance.alive) {
        this.#instance = null;
        this.discarded++;
      }
    }
  }

  /** Hands control parameters to the guest; returns its error, or null. */
  control(params: readonly (readonly [string, string])[]): string | null {
    const instance = this.#live();
    try {
      return instance.control(params);
    } finally {
      this.state.rollback();
      if (!instance.alive) {
        this.#instance = null;
        this.discarded++;
      }
    }
  }
}
