/**
 * A live guest instance: its memory (read, write, allocate through the guest's allocator),
 * its fuel counter, and the classification of a failed call. After any failure the instance
 * is discarded: its state can no longer be trusted, and the adapter builds a new one.
 * @module
 */
import { ComponentRejectedError, SandboxTrapError, type TrapKind } from "./errors.ts";
import type { SandboxLimits } from "./limits.ts";
import { ALLOC_EXPORT, FUEL_EXPORT, GROW_REFUSED_EXPORT, MEMORY_EXPORT } from "./names.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

type Realloc = (old: number, oldSize: number, align: number, size: number) => number;

/**
 * One instance of a sandboxed module (see `Module.instantiate`). Adapters marshal through its
 * memory helpers and wrap every guest call in {@linkcode Instance.begin} and, on failure,
 * {@linkcode Instance.fail}:
 *
 * ```ts ignore
 * instance.begin(budget);
 * try {
 *   const p = instance.writeString(text);
 *   return guestFn(p, instance.lastLength);
 * } catch (e) {
 *   throw instance.fail(e); // a classified SandboxTrapError; the instance is now discarded
 * }
 * ```
 */
export class Instance {
  /** The guest's exports (adapters take the functions of their world from here). */
  readonly exports: Readonly<Record<string, unknown>>;
  /** The guest's linear memory. */
  readonly memory: WebAssembly.Memory;
  /** The limits the module was prepared for. */
  readonly limits: Readonly<SandboxLimits>;
  /** Byte length of the string the last {@linkcode writeString} wrote. */
  lastLength = 0;
  #alive = true;
  readonly #fuel: WebAssembly.Global;
  readonly #growRefused: WebAssembly.Global;
  readonly #realloc?: Realloc;
  #bytes: Uint8Array;
  #view: DataView;
  /** Budget of the last call, for `lastFuelUsed`. */
  #lastBudget = 0n;

  /**
   * Instantiates an instrumented module with its import object. Throws
   * {@linkcode ComponentRejectedError} (`start_failed`) when the start function fails.
   */
  constructor(
    module: WebAssembly.Module,
    imports: WebAssembly.Imports,
    limits: Readonly<SandboxLimits>,
  ) {
    this.limits = limits;
    let instance: WebAssembly.Instance;
    try {
      instance = new WebAssembly.Instance(module, imports);
    } catch (e) {
      throw new ComponentRejectedError(
        "start_failed",
        `the start function failed: ${e instanceof Error ? e.message : String(e)}`,
      );
    }
    const ex = instance.exports as Record<string, unknown>;
    this.exports = ex;
    this.memory = ex[MEMORY_EXPORT] as WebAssembly.Memory;
    this.#fuel = ex[FUEL_EXPORT] as WebAssembly.Global;
    this.#growRefused = ex[GROW_REFUSED_EXPORT] as WebAssembly.Global;
    this.#realloc = ex[ALLOC_EXPORT] as Realloc | undefined;
    this.#bytes = new Uint8Array(this.memory.buffer);
    this.#view = new DataView(this.memory.buffer);
  }

  /** False once a call failed (or {@linkcode discard} was called). */
  get alive(): boolean {
    return this.#alive;
  }

  /** Marks the instance unusable; later {@linkcode begin} calls fail. */
  discard(): void {
    this.#alive = false;
  }

  /** The fuel counter: what is left of the current call's budget (negative once exhausted). */
  get fuel(): bigint {
    return this.#fuel.value as bigint;
  }

  /** Sets the fuel counter. */
  set fuel(value: bigint) {
    this.#fuel.value = value;
  }

  /** Fuel the last call used (read on demand: the counter keeps its value until the next call). */
  get lastFuelUsed(): number {
    return Number(this.#lastBudget - (this.#fuel.value as bigint));
  }

  /**
   * Starts a guest call with `budget` fuel and a clear memory-cap flag. Throws
   * {@linkcode SandboxTrapError} when the instance was discarded.
   */
  begin(budget: bigint): void {
    if (!this.#alive) {
      throw new SandboxTrapError("trap", "the instance was discarded after a failure");
    }
    this.#fuel.value = this.#lastBudget = budget;
    this.#growRefused.value = 0;
  }

  /** Discards the instance and returns why the call failed, classified. */
  fail(e: unknown): SandboxTrapError {
    this.#alive = false;
    return this.classify(e);
  }

  /** What a failure of a call is: fuel, memory cap, stack overflow, `unreachable` or other. */
  classify(e: unknown): SandboxTrapError {
    if (e instanceof SandboxTrapError) return e;
    const message = e instanceof Error ? e.message : String(e);
    let kind: TrapKind = "trap";
    // The fuel check ends in `unreachable` too: the counter tells them apart.
    if ((this.#fuel.value as bigint) < 0n) kind = "fuel_exhausted";
    // V8 reports neither as its own type: a stack overflow is a RangeError, `unreachable` a
    // RuntimeError, each with a fixed message.
    else if (e instanceof RangeError && /call stack/i.test(message)) kind = "stack_overflow";
    else if (this.#growRefused.value === 1) kind = "memory_cap";
    else if (e instanceof WebAssembly.RuntimeError && message === "unreachable") {
      kind = "unreachable";
    }
    const text = kind === "fuel_exhausted"
      ? `fuel exhausted (budget ${this.limits.fuelPerCall})`
      : kind === "memory_cap"
      ? `memory cap of ${this.limits.memoryPages} pages reached (${message})`
      : kind === "stack_overflow"
      ? "stack overflow (recursion too deep)"
      : `trap: ${message}`;
    return new SandboxTrapError(kind, text);
  }

  /** Takes new views of the memory when it grew (call after guest code ran). */
  refresh(): void {
    // Growing the memory detaches its old buffer, which empties the views of it: checking
    // their length is cheaper than fetching `memory.buffer` on every call.
    if (this.#bytes.length === 0 && this.#bytes.buffer !== this.memory.buffer) {
      this.#bytes = new Uint8Array(this.memory.buffer);
      this.#view = new DataView(this.memory.buffer);
    }
  }

  /** The memory as bytes, as of the last {@linkcode refresh}. */
  get bytes(): Uint8Array {
    return this.#bytes;
  }

  /** The memory as a DataView, as of the last {@linkcode refresh}. */
  get view(): DataView {
    return this.#view;
  }

  /** Throws {@linkcode SandboxTrapError} (`bad_result`) unless `[ptr, ptr+len)` is in memory. */
  checkRange(ptr: number, len: number, what: string): void {
    if (ptr < 0 || len < 0 || ptr + len > this.#bytes.length) {
      throw new SandboxTrapError("bad_result", `${what} points outside guest memory`);
    }
  }

  /** Allocates `size` bytes in guest memory with the guest's `cabi_realloc`. */
  alloc(size: number, align: number): number {
    const ptr = this.#realloc!(0, 0, align, size);
    this.refresh();
    this.checkRange(ptr, size, `${ALLOC_EXPORT} result`);
    return ptr;
  }

  /** Copies `data` into newly allocated guest memory; returns where. */
  writeBytes(data: Uint8Array, align: number): number {
    const ptr = this.alloc(data.length, align);
    this.#bytes.set(data, ptr);
    return ptr;
  }

  /**
   * Lowers a `list<tuple<string, string>>` (headers, parameters) into guest memory: each
   * string written, then the (ptr, len, ptr, len) words; returns the list's address (0 when
   * empty, the canonical ABI's empty list) and leaves `lastLength` alone: the caller passes
   * `pairs.length`.
   */
  writeStringPairs(pairs: readonly (readonly [string, string])[]): number {
    const n = pairs.length;
    if (n === 0) return 0;
    const words = new Array<number>(n * 4);
    for (let i = 0; i < n; i++) {
      words[i * 4] = this.writeString(pairs[i][0]);
      words[i * 4 + 1] = this.lastLength;
      words[i * 4 + 2] = this.writeString(pairs[i][1]);
      words[i * 4 + 3] = this.lastLength;
    }
    const ptr = this.alloc(n * 16, 4);
    const view = this.view;
    for (let i = 0; i < n * 4; i++) view.setUint32(ptr + i * 4, words[i], true);
    return ptr;
  }

  /**
   * Writes `count` strings of `strings` as UTF-8 into ONE newly allocated guest block, after
   * `head` bytes left for the caller (4-aligned at the block's start); each string's address
   * and byte length go to {@linkcode packedAt} and {@linkcode packedLength}. One
   * `cabi_realloc` call instead of one per string: the call into the guest costs more than
   * copying a short string.
   */
  packStrings(strings: readonly string[], count: number, head: number): number {
    const lens = this.packedLength;
    let size = head;
    let encoded: Map<number, Uint8Array> | null = null;
    for (let i = 0; i < count; i++) {
      const s = strings[i];
      let ascii = true;
      for (let j = 0; j < s.length; j++) {
        if (s.charCodeAt(j) > 0x7f) {
          ascii = false;
          break;
        }
      }
      if (ascii) lens[i] = s.length;
      else {
        const data = encoder.encode(s);
        (encoded ??= new Map()).set(i, data);
        lens[i] = data.length;
      }
      size += lens[i];
    }
    const base = this.alloc(size, 4);
    const bytes = this.#bytes;
    const at = this.packedAt;
    let p = base + head;
    for (let i = 0; i < count; i++) {
      at[i] = p;
      const data = encoded?.get(i);
      if (data) bytes.set(data, p);
      else {
        const s = strings[i];
        for (let j = 0; j < s.length; j++) bytes[p + j] = s.charCodeAt(j);
      }
      p += lens[i];
    }
    return base;
  }

  /**
   * Writes a pulse's four context strings and its header list into ONE guest block (see
   * {@linkcode packStrings}): at the block's start the header list, an entry of 16 bytes per
   * header (name address and length, value address and length, little-endian u32), then
   * the strings' UTF-8 bytes. `a`..`d` land in {@linkcode packedAt} and
   * {@linkcode packedLength} [0..4). Returns the block, which is the header list's address
   * when there are headers. Policies and operators lower every pulse this way.
   */
  packContext(
    a: string,
    b: string,
    c: string,
    d: string,
    headers: readonly (readonly [string, string])[],
  ): number {
    const strings = this.#contextStrings;
    const n = headers.length;
    strings[0] = a;
    strings[1] = b;
    strings[2] = c;
    strings[3] = d;
    for (let i = 0; i < n; i++) {
      strings[4 + 2 * i] = headers[i][0];
      strings[5 + 2 * i] = headers[i][1];
    }
    const block = this.packStrings(strings, 4 + 2 * n, n * 16);
    strings.length = 4; // the header strings are not kept alive
    if (n > 0) {
      const view = this.view;
      const at = this.packedAt;
      const len = this.packedLength;
      for (let i = 0; i < 2 * n; i++) {
        view.setUint32(block + i * 8, at[4 + i], true);
        view.setUint32(block + i * 8 + 4, len[4 + i], true);
      }
    }
    return block;
  }

  /** Reused by {@linkcode packContext}: lowering a pulse allocates no array. */
  readonly #contextStrings: string[] = [];

  /** Guest addresses of the strings the last {@linkcode packStrings} wrote. */
  readonly packedAt: number[] = [];
  /** UTF-8 byte lengths of the strings the last {@linkcode packStrings} wrote. */
  readonly packedLength: number[] = [];

  /** Writes `s` as UTF-8 into newly allocated guest memory; its length goes to `lastLength`. */
  writeString(s: string): number {
    // Short ASCII strings (topics, realities, ids) are written directly: TextEncoder costs
    // about a microsecond per call here.
    const n = s.length;
    if (n <= 256) {
      let ascii = true;
      for (let i = 0; i < n; i++) {
        if (s.charCodeAt(i) > 0x7f) {
          ascii = false;
          break;
        }
      }
      if (ascii) {
        const ptr = this.alloc(n, 1);
        const bytes = this.#bytes;
        for (let i = 0; i < n; i++) bytes[ptr + i] = s.charCodeAt(i);
        this.lastLength = n;
        return ptr;
      }
    }
    const data = encoder.encode(s);
    this.lastLength = data.length;
    return this.writeBytes(data, 1);
  }

  /** The UTF-8 string at `[ptr, ptr+len)`; `what` names it in the error when out of range. */
  readString(ptr: number, len: number, what: string): string {
    this.checkRange(ptr, len, what);
    const bytes = this.#bytes;
    if (len <= 256) {
      let ascii = true;
      for (let i = ptr; i < ptr + len; i++) {
        if (bytes[i] > 0x7f) {
          ascii = false;
          break;
        }
      }
      if (ascii) {
        // Spreading a typed array into fromCharCode goes through its iterator: slow.
        let out = "";
        for (let i = ptr; i < ptr + len; i++) out += String.fromCharCode(bytes[i]);
        return out;
      }
    }
    return decoder.decode(bytes.subarray(ptr, ptr + len));
  }

  /** A copy of the bytes at `[ptr, ptr+len)`. */
  readBytes(ptr: number, len: number, what: string): Uint8Array {
    this.checkRange(ptr, len, what);
    return this.#bytes.slice(ptr, ptr + len);
  }
}
