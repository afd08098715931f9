/**
 * Builds policy components into a folder, skipping sources whose inputs are unchanged
 * (see `buildGuestCached`).
 * @module
 */
import { buildGuestCached } from "../../runtime/sandbox/build/mod.ts";
import { POLICY_TOOLCHAIN } from "./compile.ts";

/**
 * The component built from AssemblyScript `source` into `outPath`, rebuilt only when its
 * inputs changed. Returns the component bytes.
 */
export function buildPolicyCached(
  source: string,
  outPath: string,
): Promise<Uint8Array<ArrayBuffer>> {
  return buildGuestCached(source, outPath, POLICY_TOOLCHAIN);
}

/** Repository root. */
export const REPO_ROOT: string = new URL("../../", import.meta.url).pathname;

/** Where the build puts policy components. */
export const POLICY_BUILD_DIR: string = `${REPO_ROOT}build/policies/`;

/** The built component of a policy shipped in `casil/policies/` (built if needed). */
export function builtinPolicyComponent(name: string): Promise<Uint8Array<ArrayBuffer>> {
  return buildPolicyCached(
    `${REPO_ROOT}casil/policies/${name}.ts`,
    `${POLICY_BUILD_DIR}${name}.wasm`,
  );
}

/** The built component of a test policy in `casil/testdata/` (built if needed). */
export function testPolicyComponent(name: string): Promise<Uint8Array<ArrayBuffer>> {
  return buildPolicyCached(
    `${REPO_ROOT}casil/testdata/${name}.ts`,
    `${POLICY_BUILD_DIR}testdata/${name}.wasm`,
  );
}
