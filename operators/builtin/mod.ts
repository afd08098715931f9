/**
 * The operators that ship with the bus: each in `operators/builtin/<name>/` with its
 * AssemblyScript source (`assembly/operator.ts`) and its card (`card.json`); `deno task
 * build` builds each into `build/operators/builtin/<name>.wasm`. `PUT /v1/operators/{name}`
 * with `{"builtin": "<name>", ...manifest}` installs one from here.
 *
 * @example
 * ```ts ignore
 * const { component, card } = await loadBuiltin("echo");
 * ```
 * @module
 */
import { BusError } from "../../runtime/protocol/mod.ts";
import { OPERATOR_NAME } from "../manifest.ts";

/** Where the built-ins' sources live. */
export const BUILTIN_SOURCE_DIR: URL = new URL("./", import.meta.url);
/** Where `deno task build` puts their components. */
export const BUILTIN_BUILD_DIR: URL = new URL("../../build/operators/builtin/", import.meta.url);

/** A shipped operator, ready to install. */
export interface BuiltinOperator {
  readonly name: string;
  /** The component (world `arqon:bus/operator`). */
  readonly component: Uint8Array;
  /** Its card (`card.json`): the manifest's default card. */
  readonly card: unknown;
}

/** Names of the shipped operators (folders with a `card.json`), sorted. */
export async function builtinNames(): Promise<string[]> {
  const names: string[] = [];
  for await (const e of Deno.readDir(BUILTIN_SOURCE_DIR)) {
    if (!e.isDirectory || !OPERATOR_NAME.test(e.name)) continue;
    const ok = await Deno.stat(new URL(`${e.name}/card.json`, BUILTIN_SOURCE_DIR)).then(
      (s) => s.isFile,
      () => false,
    );
    if (ok) names.push(e.name);
  }
  return names.sort();
}

/**
 * The shipped operator `name`. Throws `NOT_FOUND` for an unknown one, `INTERNAL` when it
 * was not built (`deno task build`) or its card is not JSON.
 */
export async function loadBuiltin(name: string): Promise<BuiltinOperator> {
  const names = await builtinNames();
  if (!names.includes(name)) {
    throw new BusError(
      "NOT_FOUND",
      `no built-in operator ${JSON.stringify(name)} (built-ins: ${names.join(", ") || "none"})`,
    );
  }
  let component: Uint8Array;
  try {
    component = await Deno.readFile(new URL(`${name}.wasm`, BUILTIN_BUILD_DIR));
  } catch {
    throw new BusError(
      "INTERNAL",
      `built-in operator ${name} is not built: run deno task build`,
    );
  }
  let card: unknown;
  try {
    card = JSON.parse(await Deno.readTextFile(new URL(`${name}/card.json`, BUILTIN_SOURCE_DIR)));
  } catch (e) {
    throw new BusError("INTERNAL", `built-in operator ${name}: bad card.json: ${e}`);
  }
  return { name, component, card };
}
