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

/** Size of a `pulse` record in a `list<pulse>` (canonical ABI, align 8). */
export const PULSE_RECORD_SIZE = 72;

/**
 * The operator world's signature table: `init`, `handle` and `on-control` (WIT types and
 * lowered core signatures: `handle` takes the pulse flattened into 15 values), the canonical
 * ABI helpers, the host and state interfaces.
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
      core: sig([...Array<ValType>(12).fill("i32"), "i64", "i64", "i32"], ["i32"]),
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
