/**
 * The messages between the node and an operator's Worker: plain data (structured clone).
 * @module
 */
import type { SandboxLimits } from "../runtime/sandbox/mod.ts";
import type { OutputLimits } from "./operator_instance.ts";
import type { OperatorPulse } from "./world.ts";

/** Starts the operator in the worker. */
export interface StartMessage {
  readonly type: "start";
  /** The module the node's engine prepared (checked, instrumented, compiled). */
  readonly compiled: WebAssembly.Module;
  /** Its digest. */
  readonly digest: string;
  readonly limits: SandboxLimits;
  readonly outputLimits: OutputLimits;
  /** JSON text handed to `init`. */
  readonly config: string;
  /** The committed state to start from. */
  readonly state: [string, Uint8Array][];
  readonly maxStateBytes: number;
  /** The operator's reality: an output naming another one fails the pulse. */
  readonly reality: string;
  /** State writes fail (parallel instances: see docs/operators.md, "Instances"). */
  readonly readOnlyState?: boolean;
}

/**
 * Replaces the state the operator runs over (a restored snapshot, or the store's copy after
 * a failed commit): a fresh instance runs `init`, and the next batch sees the new state.
 */
export interface ResetMessage {
  readonly type: "reset";
  readonly state: [string, Uint8Array][];
}

/** Handles a batch of input pulses, in order. */
export interface BatchMessage {
  readonly type: "batch";
  readonly id: number;
  readonly pulses: OperatorPulse[];
}

/** From the node to the worker. */
export type ToWorker = StartMessage | BatchMessage | ResetMessage;

/** The outcome of one input pulse. */
export type PulseOutcome =
  | {
    readonly ok: true;
    readonly outputs: OperatorPulse[];
    /** State writes, in order (`null` deletes). */
    readonly changes: [string, Uint8Array | null][];
    readonly fuel: number;
    /** Time `handle` took, ms. */
    readonly ms: number;
  }
  | { readonly ok: false; readonly kind: string; readonly message: string; readonly ms: number };

/** From the worker to the node. */
export type FromWorker =
  | { readonly type: "ready" }
  | { readonly type: "started" }
  | { readonly type: "failed"; readonly message: string }
  | { readonly type: "results"; readonly id: number; readonly outcomes: PulseOutcome[] }
  | { readonly type: "log"; readonly level: string; readonly message: string };
