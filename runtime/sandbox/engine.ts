/**
 * The sandbox engine, one per node: it turns guest bytes into checked, metered,
 * memory-capped {@linkcode Module}s, keeps them in a cache by content hash, and owns the
 * worker that instruments them off the event loop.
 * @module
 */
import { BusError } from "../protocol/mod.ts";
import { extractCore } from "./component.ts";
import { ComponentRejectedError } from "./errors.ts";
import { describeError, instrumentCore } from "./instrument.ts";
import { WorkerInstrumenter } from "./instrumenter.ts";
import { DEFAULT_LIMITS, type SandboxLimits } from "./limits.ts";
import { Module } from "./module.ts";
import type { WorldSpec } from "./world.ts";

/** Options of an {@linkcode Engine}. */
export interface EngineOptions {
  /**
   * Instrument in a background worker (what a node does: uploads then never stall the event
   * loop, and a Binaryen crash on a hostile module stays in the worker).
   * @default false
   */
  worker?: boolean;
  /**
   * How many prepared modules the cache keeps (oldest dropped first).
   * @default 64
   */
  cacheSize?: number;
}

async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as BufferSource));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * Prepares guest modules. The same bytes for the same world and limits give the same
 * {@linkcode Module} (instrumenting costs milliseconds per KB; instantiating a prepared module
 * is cheap).
 *
 * @example Load a policy component and instantiate it
 * ```ts ignore
 * const engine = new Engine({ worker: true });
 * const module = await engine.load(componentBytes, POLICY_WORLD, { fuelPerCall: 1e6, memoryPages: 64 });
 * const instance = module.instantiate(hostImports);
 * // ... call the guest through an adapter ...
 * engine.close();
 * ```
 */
export class Engine {
  readonly #worker?: WorkerInstrumenter;
  readonly #cache = new Map<string, Promise<Module>>();
  readonly #cacheSize: number;
  #closed = false;

  /** An engine with an empty cache; the worker starts with the first job. */
  constructor(options: EngineOptions = {}) {
    this.#worker = options.worker ? new WorkerInstrumenter() : undefined;
    this.#cacheSize = options.cacheSize ?? 64;
  }

  /** Modules in the cache (prepared or being prepared). */
  get cached(): number {
    return this.#cache.size;
  }

  /**
   * Checks a component against `world`, takes out its core module, instruments and compiles
   * it; cached by content hash, world and limits. Throws {@linkcode ComponentRejectedError}
   * naming what is wrong.
   */
  load(
    component: Uint8Array,
    world: WorldSpec,
    limits: SandboxLimits = DEFAULT_LIMITS,
  ): Promise<Module> {
    return this.#cached("component", component, world, limits, async (digest) => {
      const core = await extractCore(component, world);
      return await this.#prepare(digest, core, world, limits);
    });
  }

  /**
   * As {@linkcode load}, for a bare core module (no component wrapping): for guests built
   * without the component model, and for tests.
   */
  loadCore(
    core: Uint8Array,
    world: WorldSpec,
    limits: SandboxLimits = DEFAULT_LIMITS,
  ): Promise<Module> {
    return this.#cached(
      "core",
      core,
      world,
      limits,
      (digest) => this.#prepare(digest, core, world, limits),
    );
  }

  /**
   * Terminates the instrumenter worker and empties the cache; loads still running and later
   * ones fail with `SHUTTING_DOWN`. Modules already prepared keep working.
   */
  close(): void {
    this.#closed = true;
    this.#worker?.close();
    this.#cache.clear();
  }

  async #cached(
    kind: string,
    bytes: Uint8Array,
    world: WorldSpec,
    limits: SandboxLimits,
    prepare: (digest: string) => Promise<Module>,
  ): Promise<Module> {
    if (this.#closed) throw new BusError("SHUTTING_DOWN", "the sandbox engine is closed");
    const digest = await sha256Hex(bytes);
    // The world is part of the key: the same bytes checked against another table is another
    // result. Worlds are small, and loading is far from the hot path.
    const key = `${kind}:${digest}:${limits.fuelPerCall}:${limits.memoryPages}:${
      JSON.stringify(world)
    }`;
    let entry = this.#cache.get(key);
    if (!entry) {
      entry = prepare(digest);
      this.#cache.set(key, entry);
      entry.catch(() => this.#cache.delete(key));
      if (this.#cache.size > this.#cacheSize) this.#cache.delete(this.#cache.keys().next().value!);
    }
    return await entry;
  }

  async #prepare(
    digest: string,
    core: Uint8Array,
    world: WorldSpec,
    limits: SandboxLimits,
  ): Promise<Module> {
    let instrumented: Uint8Array;
    try {
      instrumented = this.#worker
        ? await this.#worker.instrument(core, world, limits)
        : await instrumentCore(core, world, limits);
    } catch (e) {
      if (e instanceof BusError) throw e;
      // Whatever else goes wrong while rewriting a hostile module is still a refusal.
      throw new ComponentRejectedError("bad_core_module", `cannot instrument: ${describeError(e)}`);
    }
    let compiled: WebAssembly.Module;
    try {
      compiled = await WebAssembly.compile(instrumented as BufferSource);
    } catch (e) {
      throw new ComponentRejectedError(
        "bad_core_module",
        `the instrumented module does not compile: ${describeError(e)}`,
      );
    }
    return new Module(digest, compiled, world, limits);
  }
}
