/**
 * A checked, metered, memory-capped compiled module (see `Engine.load`): instantiate it any
 * number of times with an adapter's host-import table.
 * @module
 */
import { Instance } from "./instance.ts";
import type { SandboxLimits } from "./limits.ts";
import { hostImportProblems, type HostImports, type WorldSpec } from "./world.ts";

/** A compiled guest of one world, prepared for one set of limits. */
export class Module {
  /** SHA-256 of the bytes it was loaded from (the component, or the core module), hex. */
  readonly digest: string;
  /** The limits it was prepared for. */
  readonly limits: Readonly<SandboxLimits>;
  /** The world it was checked against. */
  readonly world: WorldSpec;
  readonly #compiled: WebAssembly.Module;
  /** Host tables already checked against the world (adapters reuse one table per instance kind). */
  readonly #checked = new WeakSet<HostImports>();

  /** Wraps an instrumented, compiled module (the engine builds these). */
  constructor(
    digest: string,
    compiled: WebAssembly.Module,
    world: WorldSpec,
    limits: SandboxLimits,
  ) {
    this.digest = digest;
    this.#compiled = compiled;
    this.world = world;
    this.limits = Object.freeze({ ...limits });
  }

  /**
   * The instrumented, compiled module: post it to a Worker and wrap it there with
   * `new Module(digest, compiled, world, limits)` to run the guest off the event loop without
   * preparing it again.
   */
  get compiled(): WebAssembly.Module {
    return this.#compiled;
  }

  /**
   * A new instance whose imports come from `host`, which must implement every host function
   * of the world with the world's signature (a `TypeError` says which does not: that is a bug
   * of the adapter, not of the guest). Throws `ComponentRejectedError`
   * (`start_failed`) when the guest's start function fails.
   */
  instantiate(host: HostImports): Instance {
    if (!this.#checked.has(host)) {
      const problems = hostImportProblems(this.world, host);
      if (problems.length > 0) throw new TypeError(problems.join("; "));
      this.#checked.add(host);
    }
    const imports: WebAssembly.Imports = {};
    for (const [module, functions] of Object.entries(host)) {
      const table: Record<string, WebAssembly.ImportValue> = {};
      for (const [name, f] of Object.entries(functions)) table[name] = f.fn;
      imports[module] = table;
    }
    return new Instance(this.#compiled, imports, this.limits);
  }
}
