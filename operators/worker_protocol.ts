/**
 * The messages between the node and an operator's Worker. Start, reset and log messages are
 * plain data (structured clone); the hot ones, a batch of input pulses and its outcomes,
 * travel as one packed `ArrayBuffer` each, transferred (the layout is defined here, by
 * {@linkcode encodeBatch} / {@linkcode decodeBatch} and {@linkcode encodeOutcomes} /
 * {@linkcode decodeOutcomes}).
 * @module
 */
import type { SandboxLimits } from "../runtime/sandbox/mod.ts";
import type { OutputLimits } from "./operator_instance.ts";
import { PackedReader, PackedWriter } from "./packed.ts";
import type { OperatorPulse } from "./world.ts";
import type { ControlStep } from "./control_feed.ts";

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
  /** The input pulses ({@linkcode encodeBatch}), transferred. */
  readonly packed: ArrayBuffer;
  /** Control parameter sets to hand over between the pulses (`on-control`). */
  readonly controls?: ControlStep[];
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
  | {
    readonly type: "results";
    readonly id: number;
    /** One outcome per input pulse ({@linkcode encodeOutcomes}), transferred. */
    readonly packed: ArrayBuffer;
  }
  | { readonly type: "log"; readonly level: string; readonly message: string }
  /** An `on-control` call failed (sent before the batch's results). */
  | { readonly type: "control-failed"; readonly message: string };

function writePulse(w: PackedWriter, p: OperatorPulse): void {
  w.str(p.topic);
  w.str(p.reality);
  w.str(p.producer);
  w.u32(p.headers.length);
  for (const [k, v] of p.headers) {
    w.str(k);
    w.str(v);
  }
  w.str(p.contentType);
  w.bytes(p.payload);
  w.i64(p.entropySeed);
  w.i64(p.wallMs);
  w.f64(p.logical);
  const sp = p.spectral;
  if (!sp) return w.u8(0);
  w.u8(1);
  w.f64(sp.coherence);
  w.f64(sp.criticality);
  w.u32(sp.eigenvalues.length);
  for (const e of sp.eigenvalues) w.f64(e);
}

function readPulse(r: PackedReader): OperatorPulse {
  const topic = r.str();
  const reality = r.str();
  const producer = r.str();
  const headers: [string, string][] = [];
  for (let n = r.u32(); n > 0; n--) headers.push([r.str(), r.str()]);
  const p: OperatorPulse = {
    topic,
    reality,
    producer,
    headers,
    contentType: r.str(),
    payload: r.bytes(),
    entropySeed: r.u64(),
    wallMs: r.i64(),
    logical: r.f64(),
    spectral: null,
  };
  if (r.u8() === 1) {
    const coherence = r.f64();
    const criticality = r.f64();
    const eigenvalues: number[] = [];
    for (let n = r.u32(); n > 0; n--) eigenvalues.push(r.f64());
    p.spectral = { coherence, criticality, eigenvalues };
  }
  return p;
}

/** Packs a batch of input pulses (node -> worker). */
export function encodeBatch(pulses: readonly OperatorPulse[]): ArrayBuffer {
  // Sized to fit at once (payloads plus ~160 bytes of fields and headers a pulse): the
  // writer used to start at 4 KiB and regrow (copying) two or three times per batch.
  let size = 4;
  for (const p of pulses) size += p.payload.length + 160 + p.headers.length * 64;
  const w = new PackedWriter(size);
  w.u32(pulses.length);
  for (const p of pulses) writePulse(w, p);
  return w.finish();
}

/** Unpacks {@linkcode encodeBatch}; payloads are views into `packed` (the worker's own copy). */
export function decodeBatch(packed: ArrayBuffer): OperatorPulse[] {
  const r = new PackedReader(packed);
  const out: OperatorPulse[] = [];
  for (let n = r.u32(); n > 0; n--) out.push(readPulse(r));
  return out;
}

/** Packs the outcomes of a batch (worker -> node). */
export function encodeOutcomes(outcomes: readonly PulseOutcome[]): ArrayBuffer {
  const w = new PackedWriter();
  w.u32(outcomes.length);
  for (const o of outcomes) {
    if (!o.ok) {
      w.u8(0);
      w.str(o.kind);
      w.str(o.message);
      w.f64(o.ms);
      continue;
    }
    w.u8(1);
    w.u32(o.outputs.length);
    for (const p of o.outputs) writePulse(w, p);
    w.u32(o.changes.length);
    for (const [k, v] of o.changes) {
      w.str(k);
      if (v === null) w.u8(0);
      else {
        w.u8(1);
        w.bytes(v);
      }
    }
    w.f64(o.fuel);
    w.f64(o.ms);
  }
  return w.finish();
}

/**
 * Unpacks {@linkcode encodeOutcomes}. Payloads and state values are copies: they may live on
 * in the store, and a view would keep the whole message alive.
 */
export function decodeOutcomes(packed: ArrayBuffer): PulseOutcome[] {
  const r = new PackedReader(packed, true);
  const out: PulseOutcome[] = [];
  for (let n = r.u32(); n > 0; n--) {
    if (r.u8() === 0) {
      out.push({ ok: false, kind: r.str(), message: r.str(), ms: r.f64() });
      continue;
    }
    const outputs: OperatorPulse[] = [];
    for (let m = r.u32(); m > 0; m--) outputs.push(readPulse(r));
    const changes: [string, Uint8Array | null][] = [];
    for (let m = r.u32(); m > 0; m--) {
      const key = r.str();
      changes.push([key, r.u8() === 1 ? r.bytes() : null]);
    }
    out.push({ ok: true, outputs, changes, fuel: r.f64(), ms: r.f64() });
  }
  return out;
}
