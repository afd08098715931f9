/**
 * An operator's key-value state as one `handle` call sees it: the committed map plus the
 * call's pending writes, applied together with the call's outputs ({@linkcode commit}) or
 * dropped with them when the call fails ({@linkcode rollback}). Bounded: keys plus values of
 * the committed state after the pending writes never exceed `maxBytes`.
 * @module
 */

const encoder = new TextEncoder();

/** UTF-8 byte length of `s` (ASCII keys without an encoder call). */
function utf8Length(s: string): number {
  for (let i = 0; i < s.length; i++) {
    if (s.charCodeAt(i) > 0x7f) return encoder.encode(s).length;
  }
  return s.length;
}

/** The writes of one call: a key's new value, or `null` when deleted. */
export type StateChanges = ReadonlyMap<string, Uint8Array | null>;

/** Committed state with one call's pending writes. */
export class OperatorState {
  /** The byte limit (UTF-8 keys plus values). */
  readonly maxBytes: number;
  /**
   * Writes fail with an error (`set`) or are ignored (`delete`): parallel instances of one
   * operator read the state but never write it (docs/operators.md, "Instances").
   */
  readonly readOnly: boolean;
  readonly #committed = new Map<string, Uint8Array>();
  #pending = new Map<string, Uint8Array | null>();
  #bytes = 0;
  #pendingBytes = 0;

  /** Empty state bounded by `maxBytes`, or `entries` (as restored from the store). */
  constructor(
    maxBytes: number,
    entries: Iterable<readonly [string, Uint8Array]> = [],
    readOnly = false,
  ) {
    this.maxBytes = maxBytes;
    this.readOnly = readOnly;
    for (const [k, v] of entries) {
      this.#committed.set(k, v);
      this.#bytes += utf8Length(k) + v.length;
    }
    this.#pendingBytes = this.#bytes;
  }

  /** Committed bytes (keys plus values). */
  get bytes(): number {
    return this.#bytes;
  }

  /** Committed keys. */
  get size(): number {
    return this.#committed.size;
  }

  /** The value under `key` as this call sees it. */
  get(key: string): Uint8Array | undefined {
    const p = this.#pending.get(key);
    if (p !== undefined) return p ?? undefined;
    return this.#committed.get(key);
  }

  #sizeOf(key: string): number {
    const v = this.get(key);
    return v === undefined ? 0 : utf8Length(key) + v.length;
  }

  /** Sets `key` for this call; an error message (nothing set) when over the limit. */
  set(key: string, value: Uint8Array): string | null {
    if (this.readOnly) {
      return "operator state is read-only: the operator runs as parallel instances";
    }
    const after = this.#pendingBytes - this.#sizeOf(key) + utf8Length(key) + value.length;
    if (after > this.maxBytes) {
      return `operator state limit of ${this.maxBytes} bytes exceeded (${after} bytes)`;
    }
    this.#pending.set(key, value.slice());
    this.#pendingBytes = after;
    return null;
  }

  /** Deletes `key` for this call. */
  delete(key: string): void {
    if (this.readOnly) return;
    this.#pendingBytes -= this.#sizeOf(key);
    this.#pending.set(key, null);
  }

  /** Applies the call's writes; returns them (for the durable store). */
  commit(): StateChanges {
    const changes = this.#pending;
    for (const [k, v] of changes) {
      if (v === null) this.#committed.delete(k);
      else this.#committed.set(k, v);
    }
    this.#bytes = this.#pendingBytes;
    this.#pending = new Map();
    return changes;
  }

  /** Drops the call's writes. */
  rollback(): void {
    this.#pending = new Map();
    this.#pendingBytes = this.#bytes;
  }

  /** The committed state, copied (for snapshots). */
  snapshot(): Map<string, Uint8Array> {
    return new Map(this.#committed);
  }
}
