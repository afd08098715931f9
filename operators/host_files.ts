/**
 * Where a node keeps its operators: `<dir>/<name>.wasm` (the component), `<name>.json` (the
 * manifest, with `builtin` when installed from one) and `<name>.stopped` (present while it
 * is stopped), so they restart with the node in the state they had. Without a directory
 * (`--memory`) every call does nothing.
 * @module
 */

/** One operator as kept on disk. */
export interface SavedOperator {
  readonly name: string;
  /** The manifest as saved (parse it again: it may predate this node's checks). */
  readonly manifest: Record<string, unknown>;
  readonly component: Uint8Array;
  readonly stopped: boolean;
}

/** The operator files of a node. */
export class OperatorFiles {
  readonly #dir: string | null;

  /** Files under `dir`, or none when null. */
  constructor(dir: string | null) {
    this.#dir = dir;
  }

  /**
   * Every saved operator, as far as it can be read; `onError` hears about the others
   * (which are skipped).
   */
  async *list(onError: (name: string, error: Error) => void): AsyncGenerator<SavedOperator> {
    const dir = this.#dir;
    if (!dir) return;
    await Deno.mkdir(dir, { recursive: true });
    for await (const e of Deno.readDir(dir)) {
      if (!e.isFile || !e.name.endsWith(".json")) continue;
      const name = e.name.slice(0, -5);
      let saved: SavedOperator;
      try {
        saved = {
          name,
          manifest: JSON.parse(await Deno.readTextFile(`${dir}/${e.name}`)),
          component: await Deno.readFile(`${dir}/${name}.wasm`),
          stopped: await Deno.stat(`${dir}/${name}.stopped`).then(() => true, () => false),
        };
      } catch (err) {
        onError(name, err as Error);
        continue;
      }
      yield saved;
    }
  }

  /** Saves an installed or replaced operator. */
  async save(name: string, component: Uint8Array, manifest: unknown): Promise<void> {
    if (!this.#dir) return;
    await Deno.writeFile(`${this.#dir}/${name}.wasm`, component);
    await Deno.writeTextFile(`${this.#dir}/${name}.json`, JSON.stringify(manifest));
  }

  /** Marks an operator stopped (or not). */
  async setStopped(name: string, stopped: boolean): Promise<void> {
    if (!this.#dir) return;
    const path = `${this.#dir}/${name}.stopped`;
    if (stopped) await Deno.writeTextFile(path, "");
    else await Deno.remove(path).catch(() => {});
  }

  /** Removes every file of an operator. */
  async remove(name: string): Promise<void> {
    if (!this.#dir) return;
    for (const ext of [".json", ".wasm", ".stopped"]) {
      await Deno.remove(`${this.#dir}/${name}${ext}`).catch(() => {});
    }
  }
}
