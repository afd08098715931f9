/**
 * Worker entry: instruments one policy core module per message, off the node's event loop
 * (Binaryen works synchronously, about 4 ms per KB of module here).
 * @module
 */
import { ComponentRejectedError } from "./errors.ts";
import { instrumentPolicyCore } from "./policy_module.ts";
import type { SandboxLimits } from "./limits.ts";

interface Job {
  id: number;
  core: Uint8Array;
  limits: SandboxLimits;
}

const scope = self as unknown as {
  onmessage: ((e: MessageEvent<Job>) => void) | null;
  postMessage(message: unknown, transfer?: Transferable[]): void;
};

scope.onmessage = async (e) => {
  const { id, core, limits } = e.data;
  try {
    const bytes = await instrumentPolicyCore(core, limits);
    scope.postMessage({ id, bytes }, [bytes.buffer as ArrayBuffer]);
  } catch (err) {
    const code = err instanceof ComponentRejectedError ? err.code : "bad_core_module";
    const message = err instanceof Error ? err.message : String(err);
    scope.postMessage({ id, error: { code, message } });
  }
};
