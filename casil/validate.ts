/**
 * Checks of what a publisher sends when installing a policy: its name and its config.
 * @module
 */
import { PolicyError } from "./errors.ts";

const NAME = /^[a-z0-9][a-z0-9_-]{0,63}$/;

/** Throws {@linkcode PolicyError} unless `name` is a valid policy name. */
export function checkPolicyName(name: string): void {
  if (!NAME.test(name)) {
    throw new PolicyError("INVALID_ARGUMENT", "policy name must match [a-z0-9][a-z0-9_-]{0,63}");
  }
}

/** The config as canonical JSON object text (`{}` when absent or blank). */
export function canonicalConfig(config: string | undefined): string {
  if (config === undefined || config.trim() === "") return "{}";
  let parsed: unknown;
  try {
    parsed = JSON.parse(config);
  } catch {
    throw new PolicyError("INVALID_ARGUMENT", "config must be a JSON object");
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new PolicyError("INVALID_ARGUMENT", "config must be a JSON object");
  }
  return JSON.stringify(parsed);
}
