/**
 * World `arqon:bus/policy` as the sandbox sees it: its signature table, and the values that
 * cross it (a pulse's inputs in, a verdict out).
 * @module
 */
import {
  type GuestLogger,
  HOST_SIGNATURES,
  type Signature,
  type ValType,
  type WorldSpec,
} from "../runtime/sandbox/mod.ts";
import { HOST_MODULE, POLICY_WORLD as POLICY_WORLD_NAME, WIT_PACKAGE } from "../wit/mod.ts";

/** The pulse-level inputs of one policy call. */
export interface PolicyInput {
  /** Reality id (`default` when the producer gave none). */
  reality: string;
  /** The pulse's topic. */
  topic: string;
  /** The producer's authenticated identity. */
  producer: string;
  /** Header pairs, in the order given (callers sort by name for determinism). */
  headers: readonly (readonly [string, string])[];
  /** The pulse's content type. */
  contentType: string;
  /** The payload as the policy should see it (after earlier redactions). */
  payload: Uint8Array;
  /** Seed of `random-u64` (a u64; converted only when the guest draws). */
  entropySeed: bigint | number;
  /** `logical-time` answer (ms). */
  wallMs: bigint | number;
  /** `logical-time` answer (HLC logical counter). */
  logical: number;
}

/** A policy's decision as the adapter read it from guest memory. */
export type PolicyVerdict =
  | { kind: "allow" }
  | { kind: "deny"; reason: string }
  | { kind: "redact"; payload: Uint8Array; reason: string };

export type { GuestLogger };

/** The core export deciding many pulses in one call (the batch side ABI). */
export const BATCH_EXPORT = "evaluate_batch";

/**
 * Host functions whose answer depends on the pulse being decided (`random-u64`'s stream
 * restarts for every pulse, `logical-time` is the pulse's): a policy importing one is never
 * called in batches, since the host cannot tell where one pulse ends inside a call.
 */
export const PER_PULSE_IMPORTS: readonly string[] = Object.freeze(["random-u64", "logical-time"]);

function sig(params: ValType[], results: ValType[]): Signature {
  return { params, results };
}

const TYPES_INTERFACE = WIT_PACKAGE.replace("@", "/types@");

/** Core signatures of the host functions a policy may import (the host interface). */
export const POLICY_HOST_SIGNATURES: typeof HOST_SIGNATURES = HOST_SIGNATURES;

/**
 * The policy world's signature table: `configure` and `evaluate` (with their WIT types and
 * lowered core signatures), the canonical ABI helpers, and the host interface.
 */
export const POLICY_WORLD: WorldSpec = Object.freeze({
  package: WIT_PACKAGE,
  world: POLICY_WORLD_NAME,
  entry: "evaluate",
  exports: {
    "configure": {
      wit: "func(config: string) -> result<_, string>",
      core: sig(["i32", "i32"], ["i32"]),
    },
    "evaluate": {
      wit: "func(ctx: pulse-context, payload: list<u8>) -> verdict",
      core: sig(Array(12).fill("i32"), ["i32"]),
    },
    // The batch side ABI (docs/policies.md, "Batched evaluation"): core-only like the
    // canonical ABI helpers, with the canonical layout of
    // `func(batch: list<tuple<pulse-context, list<u8>>>) -> list<verdict>`. Optional: a
    // policy without it is called one pulse at a time.
    [BATCH_EXPORT]: { core: sig(["i32", "i32"], ["i32"]), optional: true },
    [`cabi_post_${BATCH_EXPORT}`]: { core: sig(["i32"], []), optional: true },
    "cabi_realloc": { core: sig(["i32", "i32", "i32", "i32"], ["i32"]) },
    "cabi_post_evaluate": { core: sig(["i32"], []), optional: true },
    "cabi_post_configure": { core: sig(["i32"], []), optional: true },
  },
  imports: { [HOST_MODULE]: POLICY_HOST_SIGNATURES },
  typeImports: [TYPES_INTERFACE],
  uses: [`use ${TYPES_INTERFACE}.{pulse-context, verdict};`],
  buildHint: "wrap it with `deno task policy:build` (componentEmbed + componentNew)",
});
