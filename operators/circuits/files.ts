/**
 * Where a node keeps its circuits: `<dir>/<reality>/<name>.json` (the definition as
 * published), written through a temporary file and a rename so a crash leaves the old
 * definition or the new one. Without a directory (`--memory`) every call does nothing. The
 * operators a circuit installs are kept by the operator host like any other.
 * @module
 */
import type { CircuitSpec } from "./spec.ts";
import { parseCircuit } from "./spec.ts";

/** One circuit as kept on disk. */
export interface SavedCircuit {
  readonly reality: string;
  readonly name: string;
  readonly spec: CircuitSpec;
}

/** The circuit files of a node. */
export class CircuitFiles {
  readonly #dir: string | null;

  /** Files under `dir`, or none when null. */
  constructor(dir: string | null) {
    this.#dir = dir;
  }

  /** Every saved circuit that parses; `onError` hears about the others (skipped). */
  async *list(onError: (name: string, error: Error) => void): AsyncGenerator<SavedCircuit> {
    const dir = this.#dir;
    if (!dir) return;
    await Deno.mkdir(dir, { recursive: true });
    for await (const r of Deno.readDir(dir)) {
      if (!r.isDirectory) continue;
      for await (const e of Deno.readDir(`${dir}/${r.name}`)) {
        if (!e.isFile || !e.name.endsWith(".json")) continue;
        const name = e.name.slice(0, -5);
        try {
          const text = await Deno.readTextFile(`${dir}/${r.name}/${e.name}`);
          yield { reality: r.name, name, spec: parseCircuit(JSON.parse(text)) };
        } catch (err) {
          onError(`${r.name}/${name}`, err as Error);
        }
      }
    }
  }

  /** Saves an installed or replaced circuit. */
  async save(reality: string, name: string, spec: CircuitSpec): Promise<void> {
    if (!this.#dir) return;
    const dir = `${this.#dir}/${reality}`;
    await Deno.mkdir(dir, { recursive: true });
    const tmp = `${dir}/.${name}.json.tmp`;
    await Deno.writeTextFile(tmp, JSON.stringify(spec));
    await Deno.rename(tmp, `${dir}/${name}.json`);
  }

  /** Removes a circuit's file. */
  async remove(reality: string, name: string): Promise<void> {
    if (!this.#dir) return;
    await Deno.remove(`${this.#dir}/${reality}/${name}.json`).catch(() => {});
  }
}
