/**
 * The node's command line: defaults, a JSON config file, `ARQON_*` environment variables
 * and command-line flags, in increasing precedence. The flag table (`NODE_FLAGS`) is the
 * single source of every option, so `--help` lists them all.
 * @module
 */
import { parseArgs } from "node:util";
import type { Flag } from "../config/mod.ts";
import { DEFAULT_CONFIG, NODE_FLAGS, type NodeConfig } from "./config.ts";
import { helpText } from "./help.ts";

export { helpText };

/** What `parseConfig` found: the config, or a request for help. */
export type ParsedConfig = { help: true; text: string } | { help: false; config: NodeConfig };

function coerce(f: Flag, value: unknown, source: string): unknown {
  if (f.kind === "int") {
    const n = typeof value === "number" ? value : Number(value);
    if (!Number.isInteger(n) || n < 0) {
      throw new Error(`${source}: ${f.flag} must be a non-negative integer, got ${value}`);
    }
    return n;
  }
  if (f.kind === "bool") {
    if (typeof value === "boolean") return value;
    if (["1", "true", "yes"].includes(String(value))) return true;
    if (["0", "false", "no", ""].includes(String(value))) return false;
    throw new Error(`${source}: ${f.flag} must be true or false, got ${value}`);
  }
  if (f.kind === "enum" && !f.choices!.includes(String(value))) {
    throw new Error(`${source}: ${f.flag} must be one of ${f.choices!.join(", ")}, got ${value}`);
  }
  return String(value);
}

/**
 * Builds the config from arguments and environment. Throws `Error` with a readable
 * message on an unknown flag or a bad value.
 *
 * @example
 * ```ts
 * import { parseConfig } from "./cli.ts";
 *
 * const parsed = parseConfig(["--port", "0", "--memory"], () => undefined);
 * if (!parsed.help) console.log(parsed.config.port); // 0
 * ```
 */
export function parseConfig(
  args: string[],
  env: (name: string) => string | undefined = (n) => Deno.env.get(n),
): ParsedConfig {
  const options: Record<string, { type: "string" | "boolean"; multiple?: boolean }> = {
    config: { type: "string" },
    help: { type: "boolean" },
  };
  for (const f of NODE_FLAGS) {
    options[f.flag] = {
      type: f.kind === "bool" ? "boolean" : "string",
      multiple: f.repeatable === true,
    };
  }
  const { values } = parseArgs({ args, options, strict: true, allowPositionals: false });
  if (values.help) return { help: true, text: helpText() };
  const config: Record<string, unknown> = { ...DEFAULT_CONFIG };
  if (typeof values.config === "string") {
    const file = JSON.parse(Deno.readTextFileSync(values.config)) as Record<string, unknown>;
    for (const [key, value] of Object.entries(file)) {
      const f = NODE_FLAGS.find((x) => x.key === key);
      if (!f) throw new Error(`${values.config}: unknown option '${key}'`);
      config[key] = coerce(f, value, values.config);
    }
  }
  for (const f of NODE_FLAGS) {
    const fromEnv = f.env ? env(f.env) : undefined;
    if (fromEnv !== undefined && fromEnv !== "") config[f.key] = coerce(f, fromEnv, f.env!);
    const given = values[f.flag];
    // A repeatable flag's values join as one comma-separated list (`--cors-origin a --cors-origin b`).
    const fromFlag = Array.isArray(given) ? given.join(",") : given;
    if (fromFlag !== undefined) config[f.key] = coerce(f, fromFlag, `--${f.flag}`);
  }
  // The command line keeps a durable log by default; embedders opt in with `dataDir`.
  if (!config.memory && !config.dataDir) config.dataDir = "./data";
  return { help: false, config: config as unknown as NodeConfig };
}
