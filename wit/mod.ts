/**
 * The WIT package `arqon:bus`: where it lives and the names of its worlds.
 * @module
 */

/** Absolute path of the folder holding the WIT package. */
export const WIT_DIR: string = new URL(".", import.meta.url).pathname;

/** The package id, with version, as it appears in component import names. */
export const WIT_PACKAGE = "arqon:bus@0.1.0";

/** The world a CASIL policy component targets. */
export const POLICY_WORLD = "policy";

/** The world a Tier-Ω operator component targets. */
export const OPERATOR_WORLD = "operator";

/** Core import module name of the host interface. */
export const HOST_MODULE = "arqon:bus/host@0.1.0";

/** Core import module name of the operators' state interface. */
export const STATE_MODULE = "arqon:bus/state@0.1.0";
