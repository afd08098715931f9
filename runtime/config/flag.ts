/**
 * The one shape of a configuration option. Every layer describes its options as a
 * read-only list of `Flag`s; the node concatenates them into its flag table, from which
 * the command line, the environment, config files and `--help` are all served.
 * @module
 */

/** How a flag's value is read: free text, a non-negative integer, one of `choices`, or a switch. */
export type FlagKind = "string" | "int" | "enum" | "bool";

/**
 * One option of the node, as a command-line flag.
 *
 * @example
 * ```ts
 * import type { Flag } from "./flag.ts";
 *
 * interface MyOptions {
 *   retries: number;
 * }
 * const MY_FLAGS: readonly Flag<keyof MyOptions>[] = [
 *   { key: "retries", flag: "retries", kind: "int", help: "attempts before giving up" },
 * ];
 * ```
 */
export interface Flag<K extends string = string> {
  /** The option's key in the node's config (camelCase, as in JSON config files). */
  readonly key: K;
  /** The flag name without the leading `--`. */
  readonly flag: string;
  /** How the value is parsed and checked. */
  readonly kind: FlagKind;
  /** One line for `--help`. */
  readonly help: string;
  /** The environment variable that sets it, if any (e.g. `ARQON_PORT`). */
  readonly env?: string;
  /** The allowed values of an `enum` flag. */
  readonly choices?: readonly string[];
  /**
   * A `string` flag that may be given several times; the values join with commas.
   * @default {false}
   */
  readonly repeatable?: boolean;
}
