/**
 * Persistence of installed policies: components as `<name>.wasm` and an index of records
 * (`index.json`) in a folder under the node's data dir, written atomically.
 * @module
 */
import type { PolicyBinding } from "./bindings.ts";

/** What the engine remembers about a policy besides its component. */
export interface PolicyRecord {
  /** The policy's name (`[a-z0-9][a-z0-9_-]{0,63}`). */
  name: string;
  /** SHA-256 of the component (hex). */
  digest: string;
  /** Component size in bytes. */
  size: number;
  /** The configuration given to `configure` (JSON text). */
  config: string;
  /** Where it applies. */
  binding: PolicyBinding;
  /** Increases with every replace of the component or the binding. */
  version: number;
  /** First installation (ISO 8601). */
  createdAt: string;
  /** Last change of component, config or binding (ISO 8601). */
  updatedAt: string;
}

/** Where policies live between restarts; `dir` null keeps nothing. */
export class PolicyStore {
  /** The folder, or null in memory. */
  readonly dir: string | null;

  /** A store in `dir` (created if missing), or in memory when null. */
  constructor(dir: string | null) {
    this.dir = dir;
    if (dir) Deno.mkdirSync(dir, { recursive: true });
  }

  async #writeAtomic(path: string, data: Uint8Array): Promise<void> {
    const tmp = `${path}.${crypto.randomUUID()}.tmp`;
    const file = await Deno.open(tmp, { write: true, create: true, truncate: true });
    try {
      let written = 0;
      while (written < data.length) written += await file.write(data.subarray(written));
      await file.syncData();
    } finally {
      file.close();
    }
    await Deno.rename(tmp, path);
  }

  /** The stored records (empty in memory or when nothing was stored). */
  async records(): Promise<PolicyRecord[]> {
    if (!this.dir) return [];
    try {
      return JSON.parse(await Deno.readTextFile(`${this.dir}/index.json`)).policies ?? [];
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return [];
      throw e;
    }
  }

  /** The stored component of `name`. */
  async component(name: string): Promise<Uint8Array> {
    if (!this.dir) throw new Deno.errors.NotFound(`no stored component for ${name}`);
    return await Deno.readFile(`${this.dir}/${name}.wasm`);
  }

  /** Stores a component (before the index that refers to it). */
  async putComponent(name: string, bytes: Uint8Array): Promise<void> {
    if (this.dir) await this.#writeAtomic(`${this.dir}/${name}.wasm`, bytes);
  }

  /** Removes a component file. */
  async removeComponent(name: string): Promise<void> {
    if (!this.dir) return;
    try {
      await Deno.remove(`${this.dir}/${name}.wasm`);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
  }

  /** Replaces the index. */
  async putRecords(records: PolicyRecord[]): Promise<void> {
    if (!this.dir) return;
    const text = JSON.stringify({ policies: records }, null, 2) + "\n";
    await this.#writeAtomic(`${this.dir}/index.json`, new TextEncoder().encode(text));
  }
}
