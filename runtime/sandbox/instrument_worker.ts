/**
 * Worker entry: instruments one core module per message, off the node's event loop
 * (Binaryen works synchronously, about 4 ms per KB of module here).
 *
 * The handler is installed before anything is imported: the sandbox's module graph reaches
 * modules with top-level await (the protocol schema), and a message that arrives while the
 * worker's own module is still evaluating would find no handler and be lost.
 * @module
 */
import type { SandboxLimits } from "./limits.ts";
import type { WorldSpec } from "./world.ts";

interface Job {
  id: number;
  core: Uint8Array;
  world: WorldSpec;
  limits: SandboxLimits;
}

const scope = self as unknown as {
  onmessage: ((e: MessageEvent<Job>) => void) | null;
  postMessage(message: unknown, transfer?: Transferable[]): void;
};

const modules = Promise.all([import("./instrument.ts"), import("./errors.ts")]);

scope.onmessage = async (e) => {
  const { id, core, world, limits } = e.data;
  const [{ describeError, instrumentCore }, { ComponentRejectedError }] = await modules;
  try {
    const bytes = await instrumentCore(core, world, limits);
    scope.postMessage({ id, bytes }, [bytes.buffer as ArrayBuffer]);
  } catch (err) {
    const code = err instanceof ComponentRejectedError ? err.reason : "bad_core_module";
    scope.postMessage({ id, error: { code, message: describeError(err) } });
  }
};
