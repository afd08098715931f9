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
import type { BuiltOutput } from "./output_build.ts";
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
  /** The operator's name (its outputs' producer is `operator:<name>`). */
  readonly name: string;
  /** The operator's reality: an output naming another one fails the pulse. */
  readonly reality: string;
  /** State writes fail (parallel instances: see docs/operators.md, "Instances"). */
  readonly readOnlyState?: boolean;
  /** CPUs the Worker pins its thread to before anything else (`--operator-cpus`). */
  readonly cpus?: readonly number[];
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
    /** Hops of the outputs (the input's plus one). */
    readonly hops: number;
    /** The outputs, ready to publish (operators/output_build.ts). */
    readonly outputs: BuiltOutput[];
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

/** An input pulse as the node holds it: its protobuf encoding, in one or two parts. */
export interface EncodedInput {
  /** The producer's bytes and the node's stamp (or the whole encoding and null). */
  readonly parts: readonly [Uint8Array, Uint8Array | null];
}

/**
 * Packs a batch of input pulses (node -> worker): each one's protobuf encoding as the node
 * already holds it for delivery (no object walk, no re-encoding on the event loop: the
 * Worker decodes).
 */
export function encodeBatch(pulses: readonly EncodedInput[]): ArrayBuffer {
  let size = 4;
  for (const p of pulses) size += 4 + p.parts[0].length + (p.parts[1]?.length ?? 0);
  const bytes = new Uint8Array(size);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, pulses.length, true);
  let at = 4;
  for (const { parts: [head, tail] } of pulses) {
    view.setUint32(at, head.length + (tail?.length ?? 0), true);
    bytes.set(head, at + 4);
    if (tail) bytes.set(tail, at + 4 + head.length);
    at += 4 + head.length + (tail?.length ?? 0);
  }
  return bytes.buffer;
}

/** Unpacks {@linkcode encodeBatch}: each pulse's encoding, a view into `packed`. */
export function decodeBatch(packed: ArrayBuffer): Uint8Array[] {
  const r = new PackedReader(packed);
  const out: Uint8Array[] = [];
  for (let n = r.u32(); n > 0; n--) out.push(r.bytes());
  if (!r.done) throw new RangeError("packed batch has trailing bytes");
  return out;
}

function writeOutput(w: PackedWriter, o: BuiltOutput): void {
  w.str(o.topic);
  const names = Object.keys(o.headers);
  w.u32(names.length);
  for (const k of names) {
    w.str(k);
    w.str(o.headers[k]);
  }
  w.str(o.contentType);
  w.bytes(o.payload);
  const sp = o.spectral;
  if (sp) {
    w.u8(1);
    w.f64(sp.coherence);
    w.f64(sp.criticality);
    w.u32(sp.eigenvalues.length);
    for (const e of sp.eigenvalues) w.f64(e);
  } else w.u8(0);
  w.str(o.traceparent);
  w.u32(o.semtrace.length);
  for (const hop of o.semtrace) w.str(hop);
  if (o.source) {
    w.u8(1);
    w.bytes(o.source);
  } else w.u8(0);
  w.str(o.id);
  w.f64(o.wallMs);
  w.f64(o.logical);
  w.f64(o.entropySeed);
}

/** `PackedReader.strAt` slots of the strings that repeat output after output. */
const SLOT_TOPIC = 0;
const SLOT_CONTENT_TYPE = 1;
/** Header names and values: two slots per header position, for the first 8 headers. */
const SLOT_HEADERS = 2;
const SLOT_SEMTRACE = 18;
const SLOT_STATE_KEYS = 26;
const SLOTS_PER_LIST = 8;

function readOutput(r: PackedReader): BuiltOutput {
  const topic = r.strAt(SLOT_TOPIC);
  const headers: Record<string, string> = {};
  let h = 0;
  for (let n = r.u32(); n > 0; n--, h++) {
    const k = h < SLOTS_PER_LIST ? r.strAt(SLOT_HEADERS + 2 * h) : r.str();
    headers[k] = h < SLOTS_PER_LIST ? r.strAt(SLOT_HEADERS + 2 * h + 1) : r.str();
  }
  const contentType = r.strAt(SLOT_CONTENT_TYPE);
  const payload = r.bytes();
  let spectral: BuiltOutput["spectral"] = null;
  if (r.u8() === 1) {
    const coherence = r.f64();
    const criticality = r.f64();
    const eigenvalues: number[] = [];
    for (let n = r.u32(); n > 0; n--) eigenvalues.push(r.f64());
    spectral = { coherence, criticality, eigenvalues };
  }
  const traceparent = r.str();
  const semtrace: string[] = [];
  for (let n = r.u32(), i = 0; n > 0; n--, i++) {
    semtrace.push(i < SLOTS_PER_LIST ? r.strAt(SLOT_SEMTRACE + i) : r.str());
  }
  const source = r.u8() === 1 ? r.bytes() : null;
  return {
    topic,
    headers,
    contentType,
    payload,
    spectral,
    traceparent,
    semtrace,
    source,
    id: r.str(),
    wallMs: r.f64(),
    logical: r.f64(),
    entropySeed: r.f64(),
  };
}

const outcomeWriter = new PackedWriter();

/** Packs the outcomes of a batch (worker -> node). */
export function encodeOutcomes(outcomes: readonly PulseOutcome[]): ArrayBuffer {
  // One writer for every batch of this thread (finish() copies out what was written).
  const w = outcomeWriter;
  w.reset();
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
    w.u32(o.hops);
    w.u32(o.outputs.length);
    for (const p of o.outputs) writeOutput(w, p);
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
    const hops = r.u32();
    const outputs: BuiltOutput[] = [];
    for (let m = r.u32(); m > 0; m--) outputs.push(readOutput(r));
    const changes: [string, Uint8Array | null][] = [];
    for (let m = r.u32(), i = 0; m > 0; m--, i++) {
      const key = i < SLOTS_PER_LIST ? r.strAt(SLOT_STATE_KEYS + i) : r.str();
      changes.push([key, r.u8() === 1 ? r.bytes() : null]);
    }
    out.push({ ok: true, hops, outputs, changes, fuel: r.f64(), ms: r.f64() });
  }
  return out;
}

/**
 * The fuel a batch's outcomes used: what each handled pulse burned, and the whole budget
 * (`fuelPerCall`) for each that ran out of fuel. The Worker's priority and the runner's
 * batch size both follow it.
 *
 * @example
 * ```ts
 * import { batchFuel } from "./worker_protocol.ts";
 * batchFuel([{ ok: false, kind: "fuel_exhausted", message: "", ms: 1 }], 1000); // 1000
 * ```
 */
export function batchFuel(outcomes: readonly PulseOutcome[], fuelPerCall: number): number {
  let fuel = 0;
  for (const o of outcomes) {
    if (o.ok) fuel += o.fuel;
    else if (o.kind === "fuel_exhausted") fuel += fuelPerCall;
  }
  return fuel;
}
