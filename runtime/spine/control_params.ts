/**
 * Control parameters of realities (PRD FR-EMERG-02): a controller publishes
 * `sys.control.set` with `{"params": {...}}`; the Spine hands the payload here before it
 * sequences the pulse, so every path into the bus (WebSocket, HTTP, operator outputs) is
 * checked, merged, persisted and audited in one place. Each accepted change is a new
 * version, effective from the sequence of its pulse: operators see the parameter set that
 * was current when each input pulse was sequenced ({@linkcode ControlParams.at}).
 * @module
 */
import { BusError } from "../protocol/mod.ts";

/** The topic whose pulses change a reality's parameters. */
export const CONTROL_SET_TOPIC = "sys.control.set";

/** How deep a parameter's value may nest arrays and objects. */
export const CONTROL_MAX_DEPTH = 32;

/** Parameter names: a letter, digit or `_`, then up to 127 of `[A-Za-z0-9_.-]`. */
export const CONTROL_PARAM_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

/** One version of a reality's parameter set. */
export interface ParamSet {
  /** 1 for the first accepted change, +1 per change (0: no parameters were ever set). */
  readonly version: number;
  /** Sequence of the `sys.control.set` pulse it came with (0: loaded at start). */
  readonly sequence: number;
  /** The merged parameters (JSON values). */
  readonly params: Readonly<Record<string, unknown>>;
  /** When it was accepted (epoch ms). */
  readonly updatedMs: number;
}

/** A parameter set as the store keeps it (one row per reality: the latest version). */
export interface StoredParamSet {
  /** The reality it belongs to. */
  readonly reality: string;
  /** Its version. */
  readonly version: number;
  /** The parameters as JSON text. */
  readonly params: string;
  /** When it was accepted (epoch ms). */
  readonly updatedMs: number;
}

/** Where parameter sets persist (the store implements it; absent: memory only). */
export interface ControlParamStore {
  /** Every reality's latest parameter set. */
  loadControlParams(): StoredParamSet[];
  /** Replaces a reality's parameter set (durable when it returns). */
  saveControlParams(set: StoredParamSet): void;
  /** Deletes a reality's parameter set (the reality is gone). */
  deleteControlParams?(reality: string): void;
}

/** The audit log as control parameters use it (mandatory: every change is written). */
export interface ControlAuditSink {
  /** Appends one entry; throws when it cannot. */
  append(action: string, actor: string, details: Record<string, unknown>): unknown;
}

/** Bounds and ports of {@linkcode ControlParams}. */
export interface ControlParamsOptions {
  /** The audit log: required, so no node can run control changes unaudited. */
  readonly audit: ControlAuditSink;
  /** Persistence; absent: parameter sets live as long as the process. */
  readonly store?: ControlParamStore;
  /**
   * Most parameters in one reality's set.
   * @default {256}
   */
  readonly maxParams?: number;
  /**
   * Most bytes of one reality's set as JSON text.
   * @default {65536}
   */
  readonly maxBytes?: number;
  /**
   * Versions kept per reality for operators that lag behind the sequence (at most, and
   * within four times `maxBytes` of JSON together); an input older than all of them sees
   * the oldest kept.
   * @default {16}
   */
  readonly history?: number;
  /** Clock (epoch ms), for tests. */
  readonly now?: () => number;
  /**
   * Told when a change is refused by a bound (`control_max_params`, `control_max_bytes`),
   * for the node's `arqon_limit_hits_total{limit}`.
   */
  readonly onLimit?: (limit: "control_max_params" | "control_max_bytes") => void;
}

/**
 * Told about every accepted change; `replicated` is true for a change made on another node
 * of the cluster ({@linkcode ControlParams.applyReplicated}).
 */
export type ControlListener = (reality: string, set: ParamSet, replicated: boolean) => void;

const EMPTY: ParamSet = Object.freeze({ version: 0, sequence: 0, params: {}, updatedMs: 0 });
const decoder = new TextDecoder("utf-8", { fatal: true });
const encoder = new TextEncoder();

/** The parameter sets of every reality of a node. */
export class ControlParams {
  readonly #audit: ControlAuditSink;
  readonly #store?: ControlParamStore;
  /** Most parameters per reality. */
  readonly maxParams: number;
  /** Most JSON bytes per reality. */
  readonly maxBytes: number;
  readonly #history: number;
  readonly #now: () => number;
  readonly #onLimit: NonNullable<ControlParamsOptions["onLimit"]>;
  /** Versions per reality, oldest first (never empty once present), with their JSON bytes. */
  readonly #sets = new Map<string, Kept[]>();
  /** Realities whose history lost versions to the bound. */
  readonly #trimmed = new Set<string>();
  readonly #listeners = new Set<ControlListener>();

  /** Loads the persisted sets (each effective from sequence 0: before any new pulse). */
  constructor(options: ControlParamsOptions) {
    this.#audit = options.audit;
    this.#store = options.store;
    this.maxParams = options.maxParams ?? 256;
    this.maxBytes = options.maxBytes ?? 65536;
    this.#history = Math.max(1, options.history ?? 16);
    this.#now = options.now ?? Date.now;
    this.#onLimit = options.onLimit ?? (() => {});
    for (const row of this.#store?.loadControlParams() ?? []) {
      this.#sets.set(row.reality, [{
        set: {
          version: row.version,
          sequence: 0,
          params: Object.freeze(JSON.parse(row.params)),
          updatedMs: row.updatedMs,
        },
        bytes: encoder.encode(row.params).length,
      }]);
    }
  }

  /** Calls `listener` after every accepted change; returns its removal. */
  listen(listener: ControlListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** The current set of a reality (version 0, empty, when none was ever set). */
  current(reality: string): ParamSet {
    return this.#sets.get(reality)?.at(-1)?.set ?? EMPTY;
  }

  /**
   * The set that was current when a pulse of `reality` got `sequence`: the latest version
   * effective at or before it.
   */
  at(reality: string, sequence: number): ParamSet {
    const sets = this.#sets.get(reality);
    if (!sets) return EMPTY;
    for (let i = sets.length - 1; i >= 0; i--) {
      if (sets[i].set.sequence <= sequence) return sets[i].set;
    }
    // Older than every kept version: the oldest kept if versions were dropped (bounded
    // history), else the time before the first change.
    return this.#trimmed.has(reality) ? sets[0].set : EMPTY;
  }

  /**
   * Checks a `sys.control.set` payload and merges it into `reality`'s set as the version
   * effective from `sequence`; persists and audits it before it returns. Throws
   * `BusError` (`INVALID_ARGUMENT` for a malformed payload, `QUOTA_EXCEEDED` past the
   * bounds, `STORAGE_FAILED` when it cannot be persisted or audited): nothing changes then.
   * `replayed`: a recorded change a replay re-runs (operators/replay) is not audited again:
   * the audit chain holds it from when it was made, and a verify re-running a long log
   * would otherwise write every change (and its parameters) into the chain once more.
   */
  apply(
    reality: string,
    sequence: number,
    actor: string,
    payload: Uint8Array,
    replayed = false,
  ): ParamSet {
    const patch = this.#parse(payload);
    const before = this.current(reality);
    const params: Record<string, unknown> = { ...before.params };
    for (const [k, v] of Object.entries(patch)) {
      if (v === null) delete params[k];
      else params[k] = v;
    }
    const count = Object.keys(params).length;
    if (count > this.maxParams) {
      this.#onLimit("control_max_params");
      throw new BusError(
        "QUOTA_EXCEEDED",
        `control parameters of reality "${reality}" would number ${count}, more than ` +
          `the limit of ${this.maxParams}`,
      );
    }
    const text = JSON.stringify(params);
    const bytes = encoder.encode(text).length;
    if (bytes > this.maxBytes) {
      this.#onLimit("control_max_bytes");
      throw new BusError(
        "QUOTA_EXCEEDED",
        `control parameters of reality "${reality}" would take ${bytes} bytes as JSON, ` +
          `more than the limit of ${this.maxBytes}`,
      );
    }
    const set: ParamSet = {
      version: before.version + 1,
      sequence,
      params: Object.freeze(params),
      updatedMs: this.#now(),
    };
    this.#persist(reality, set, text, before, actor, replayed ? undefined : patch);
    this.#keep(reality, set, bytes, false);
    return set;
  }

  /**
   * Forgets a deleted reality's parameters: its versions in memory and its stored set (a
   * replay's scratch reality, dropped after each verify, would otherwise keep them all).
   */
  forget(reality: string): void {
    this.#sets.delete(reality);
    this.#trimmed.delete(reality);
    try {
      this.#store?.deleteControlParams?.(reality);
    } catch { /* the store deletes a reality's row with it as well */ }
  }

  /** Realities with parameters held in memory. */
  get size(): number {
    return this.#sets.size;
  }

  /**
   * Takes the set a change on another node of the cluster produced (audited there), as the
   * version effective from `sequence` on this node; stored, not audited again. A set whose
   * parameters and version equal the current one is ignored.
   */
  applyReplicated(
    reality: string,
    sequence: number,
    remote: { version: number; params: Record<string, unknown>; updatedMs: number },
  ): ParamSet | undefined {
    const before = this.current(reality);
    const text = JSON.stringify(remote.params);
    if (before.version === remote.version && JSON.stringify(before.params) === text) {
      return undefined;
    }
    const set: ParamSet = {
      version: remote.version,
      sequence,
      params: Object.freeze({ ...remote.params }),
      updatedMs: remote.updatedMs,
    };
    try {
      this.#store?.saveControlParams({
        reality,
        version: set.version,
        params: text,
        updatedMs: set.updatedMs,
      });
    } catch (e) {
      throw new BusError("STORAGE_FAILED", `control parameters not saved: ${message(e)}`);
    }
    this.#keep(reality, set, encoder.encode(text).length, true);
    return set;
  }

  #keep(reality: string, set: ParamSet, bytes: number, replicated: boolean): void {
    let sets = this.#sets.get(reality);
    if (!sets) this.#sets.set(reality, sets = []);
    sets.push({ set, bytes });
    // Memory stays bounded whatever the sets' sizes: a few large versions, or more small ones.
    let kept = 0;
    for (const k of sets) kept += k.bytes;
    while (sets.length > 1 && (sets.length > this.#history || kept > 4 * this.maxBytes)) {
      kept -= sets.shift()!.bytes;
      this.#trimmed.add(reality);
    }
    for (const listener of this.#listeners) {
      // The change is made: a listener's failure must not turn it into a refusal.
      try {
        listener(reality, set, replicated);
      } catch { /* the listener's own concern */ }
    }
  }

  #persist(
    reality: string,
    set: ParamSet,
    text: string,
    before: ParamSet,
    actor: string,
    patch: Record<string, unknown> | undefined,
  ): void {
    const store = this.#store;
    try {
      store?.saveControlParams({
        reality,
        version: set.version,
        params: text,
        updatedMs: set.updatedMs,
      });
    } catch (e) {
      throw new BusError("STORAGE_FAILED", `control parameters not saved: ${message(e)}`);
    }
    // A replayed change (no patch here) was audited when it was made.
    if (patch === undefined) return;
    try {
      this.#audit.append("control.set", actor, {
        reality,
        version: set.version,
        sequence: sequenceText(set.sequence),
        params: patch,
      });
    } catch (e) {
      // Unaudited changes do not happen: put the stored set back and refuse.
      try {
        if (before.version > 0) {
          store?.saveControlParams({
            reality,
            version: before.version,
            params: JSON.stringify(before.params),
            updatedMs: before.updatedMs,
          });
        }
      } catch { /* the refusal below is what the caller needs */ }
      throw new BusError("STORAGE_FAILED", `control change not audited: ${message(e)}`);
    }
  }

  #parse(payload: Uint8Array): Record<string, unknown> {
    // The set is bounded; a patch larger than the bound plus room for deletions is refused
    // before it is parsed.
    const limit = this.maxBytes + 16 * this.maxParams + 64;
    if (payload.length > limit) {
      this.#onLimit("control_max_bytes");
      throw new BusError(
        "QUOTA_EXCEEDED",
        `${CONTROL_SET_TOPIC} payload of ${payload.length} bytes is over the limit of ${limit}`,
      );
    }
    let body: unknown;
    try {
      body = JSON.parse(decoder.decode(payload));
    } catch {
      throw bad(`the payload must be JSON {"params": {"name": value, ...}}`);
    }
    if (!isObject(body)) throw bad(`the payload must be a JSON object with "params"`);
    for (const k of Object.keys(body)) {
      if (k !== "params") throw bad(`unknown field "${k}" (only "params")`);
    }
    const params = body.params;
    if (!isObject(params)) throw bad(`"params" must be a JSON object of name: value`);
    const names = Object.keys(params);
    if (names.length === 0) throw bad(`"params" names no parameter`);
    for (const name of names) {
      if (!CONTROL_PARAM_NAME.test(name)) {
        throw bad(
          `parameter name ${
            JSON.stringify(name.slice(0, 64))
          } must match ${CONTROL_PARAM_NAME.source}`,
        );
      }
      // The audit log and operators serialise values recursively: bound the nesting.
      if (depthOf(params[name]) > CONTROL_MAX_DEPTH) {
        throw bad(`parameter "${name}" nests deeper than ${CONTROL_MAX_DEPTH} levels`);
      }
    }
    return params;
  }
}

interface Kept {
  readonly set: ParamSet;
  /** Its JSON bytes. */
  readonly bytes: number;
}

/** Nesting depth of a parsed JSON value (a scalar: 0), without recursion. */
function depthOf(value: unknown): number {
  let max = 0;
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [v, d] = stack.pop()!;
    if (typeof v !== "object" || v === null) continue;
    if (d + 1 > max) max = d + 1;
    if (max > CONTROL_MAX_DEPTH) return max;
    for (const child of Object.values(v)) stack.push([child, d + 1]);
  }
  return max;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function bad(what: string): BusError {
  return new BusError("INVALID_ARGUMENT", `${CONTROL_SET_TOPIC}: ${what}`);
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Sequences are u64 on the wire: audited as numbers while they are exact. */
function sequenceText(sequence: number): number | string {
  return Number.isSafeInteger(sequence) ? sequence : String(sequence);
}

/**
 * A parameter set as `on-control` receives it: (name, JSON text of the value) pairs,
 * sorted by name.
 */
export function controlPairs(set: ParamSet): [string, string][] {
  return Object.keys(set.params).sort().map((k) => [k, JSON.stringify(set.params[k])]);
}
