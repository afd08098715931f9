/**
 * The policies that ship with the bus (AssemblyScript sources in `casil/policies/`, built by
 * `deno task build` into `build/policies/`).
 * @module
 */
import { builtinPolicyComponent } from "./build/mod.ts";

/** Names of the built-in policies and what they do. */
export const BUILTIN_POLICIES: Readonly<Record<string, string>> = Object.freeze({
  energy_cap: "deny nvm.job.submit pulses asking for more than max_joules (default 50)",
  payload_size_cap: "deny payloads larger than max_bytes (default 65536)",
  redact_secrets: "redact API keys, e-mail addresses and card numbers",
  json_schema: "validate JSON payloads against a JSON Schema per topic pattern",
});

/** The component of built-in policy `name` (built on first use if the build did not run). */
export function builtinComponent(name: string): Promise<Uint8Array<ArrayBuffer>> {
  if (!Object.hasOwn(BUILTIN_POLICIES, name)) {
    return Promise.reject(new Deno.errors.NotFound(`no built-in policy named ${name}`));
  }
  return builtinPolicyComponent(name);
}
