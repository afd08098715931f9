/**
 * World `arqon:bus/operator` as the sandbox sees it: its signature table (with the state
 * interface), and the values that cross it (a pulse in, the pulses to publish out).
 * @module
 */
import {
  HOST_MODULE,
  HOST_SIGNATURES,
  type Signature,
  type ValType,
  type WorldSpec,
} from "../runtime/sandbox/mod.ts";
import { OPERATOR_WORLD as OPERATOR_WORLD_NAME, STATE_MODULE, WIT_PACKAGE } from "../wit/mod.ts";

/** Spectral metadata of a pulse (WIT record `spectral-metadata`). */
export interface OperatorSpectral {
  /** Coherence. */
  coherence: number;
  /** Criticality. */
  criticality: number;
  /** Eigenvalues (at most `MAX_EIGENVALUES`). */
  eigenvalues: number[];
}

/** A pulse as an operator receives or emits it (WIT record `pulse`). */
export interface OperatorPulse {
  /** Topic. */
  topic: string;
  /** Reality id; on an output, empty means the operator's own. */
  reality: string;
  /** Producer id; on an output the node sets `operator:<name>` whatever the guest says. */
  producer: string;
  /** Header pairs (sorted by name on inputs). */
  headers: readonly (readonly [string, string])[];
  /** Content type. */
  contentType: string;
  /** Payload. */
  payload: Uint8Array;
  /** Seed of `random-u64` (u64). */
  entropySeed: bigint;
  /** HLC wall time (ms). */
  wallMs: bigint;
  /** HLC logical counter. */
  logical: number;
  /** Spectral metadata; null or absent when the pulse has none. */
  spectral?: OperatorSpectral | null;
}

function sig(params: ValType[], results: ValType[]): Signature {
  return { params, results };
}

const TYPES_INTERFACE = WIT_PACKAGE.replace("@", "/types@");

/** Core signatures of the state interface. */
export const OPERATOR_STATE_SIGNATURES = {
  "state-get": sig(["i32", "i32", "i32"], []),
  "state-set": sig(["i32", "i32", "i32", "i32", "i32"], []),
  "state-delete": sig(["i32", "i32"], []),
} as const satisfies Record<string, Signature>;

/**
 * Size of a `pulse` record (canonical ABI, align 8): 6 strings and lists (48 bytes), the
 * entropy seed (8), the timestamp (16), then `option<spectral-metadata>` at 72: its
 * discriminant byte, and at 80 coherence, at 88 criticality, at 96 the eigenvalue list.
 */
export const PULSE_RECORD_SIZE = 104;

/** Offset of the `spectral` option in a `pulse` record. */
export const PULSE_SPECTRAL_OFFSET = 72;

/**
 * The operator world's signature table: `init`, `handle` and `on-control` (WIT types and
 * lowered core signatures: the pulse flattens to 20 values, more than the canonical ABI's 16,
 * so `handle` takes a pointer to the record the host writes into guest memory), the
 * canonical ABI helpers, the host and state interfaces.
 */
export const OPERATOR_WORLD: WorldSpec = Object.freeze({
  package: WIT_PACKAGE,
  world: OPERATOR_WORLD_NAME,
  entry: "handle",
  exports: {
    "init": {
      wit: "func(config: string) -> result<_, string>",
      core: sig(["i32", "i32"], ["i32"]),
    },
    "handle": {
      wit: "func(pulse: pulse) -> list<pulse>",
      core: sig(["i32"], ["i32"]),
    },
    "on-control": {
      wit: "func(params: list<tuple<string, string>>) -> result<_, string>",
      core: sig(["i32", "i32"], ["i32"]),
    },
    "cabi_realloc": { core: sig(["i32", "i32", "i32", "i32"], ["i32"]) },
    "cabi_post_handle": { core: sig(["i32"], []), optional: true },
    "cabi_post_init": { core: sig(["i32"], []), optional: true },
    "cabi_post_on-control": { core: sig(["i32"], []), optional: true },
  },
  imports: { [HOST_MODULE]: HOST_SIGNATURES, [STATE_MODULE]: OPERATOR_STATE_SIGNATURES },
  typeImports: [TYPES_INTERFACE],
  uses: [`use ${TYPES_INTERFACE}.{pulse};`],
  buildHint: "wrap it with `deno task operator:build` (componentEmbed + componentNew)",
});
