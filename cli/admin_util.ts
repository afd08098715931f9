/**
 * Small helpers of the admin commands (realities, policies, operators, token).
 * @module
 */
import { CliError, EXIT, messageOf } from "./common.ts";

/** Parses a JSON option given inline or as `@file`. */
export async function jsonArg(name: string, value: string): Promise<Record<string, unknown>> {
  let text = value;
  if (value.startsWith("@")) {
    try {
      text = await Deno.readTextFile(value.slice(1));
    } catch (e) {
      throw new CliError(EXIT.USAGE, `${name}: cannot read ${value.slice(1)}: ${messageOf(e)}`);
    }
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new CliError(EXIT.USAGE, `${name}: not valid JSON: ${messageOf(e)}`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new CliError(EXIT.USAGE, `${name}: expected a JSON object`);
  }
  return parsed as Record<string, unknown>;
}

/** Reads a file's bytes, or fails as a usage error. */
export async function fileBytes(name: string, path: string): Promise<Uint8Array> {
  try {
    return await Deno.readFile(path);
  } catch (e) {
    throw new CliError(EXIT.USAGE, `${name}: cannot read ${path}: ${messageOf(e)}`);
  }
}

/** The URL form of a path segment given by the user. */
export function seg(name: string): string {
  return encodeURIComponent(name);
}
