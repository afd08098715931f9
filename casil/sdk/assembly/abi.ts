// Canonical ABI glue between the ArqonBus host and an AssemblyScript policy (world
// `arqon:bus/policy`). The generated entry of every policy re-exports `cabi_realloc` and calls
// the readers/writers below; authors never touch this file.
//
// Memory model: the stub runtime is a bump allocator that never frees. Everything a call
// allocates (arguments copied in by the host, the author's objects, the result) is released in
// `cabi_post_*` by moving the bump pointer back to a mark taken after `configure`, so state
// built at start-up or in `configure` survives and per-call garbage does not accumulate.
import { BLOCK_OVERHEAD } from "~lib/rt/common";
import { Context, Verdict } from "./types";

let mark: usize = 0;

/** Takes the first mark lazily: after the start function, before the first call's data. */
export function ensureMark(): void {
  if (mark == 0) mark = __alloc(0);
}

/** Keeps everything allocated so far (called after `configure`). */
export function remark(): void {
  mark = __alloc(0);
}

/** Frees everything allocated since the mark. */
export function release(): void {
  if (mark == 0) return;
  // The stub frees a block only when it is the last one: stretch the mark block over
  // everything allocated after it, then free it, which moves the bump pointer back.
  const probe = __alloc(0);
  const end = probe + load<usize>(probe - BLOCK_OVERHEAD);
  store<usize>(mark - BLOCK_OVERHEAD, end - mark);
  __free(mark);
  mark = __alloc(0);
}

/**
 * `cabi_realloc` as the canonical ABI requires. Every block handed to the host is an
 * ArrayBuffer object (the stub aligns it to 16 bytes), so a payload the host writes into one
 * can be viewed as a `Uint8Array` without copying.
 */
export function cabi_realloc(oldPtr: usize, oldSize: usize, align: usize, newSize: usize): usize {
  ensureMark();
  if (oldPtr == 0) return __new(newSize, idof<ArrayBuffer>());
  return __renew(oldPtr, newSize);
}

/** Reads a UTF-8 string passed by the host. */
export function readString(ptr: usize, len: usize): string {
  return String.UTF8.decodeUnsafe(ptr, len);
}

/** Views a `list<u8>` the host wrote into a `cabi_realloc` block (no copy). */
export function readBytes(ptr: usize, len: usize): Uint8Array {
  if (len == 0) return new Uint8Array(0);
  return Uint8Array.wrap(changetype<ArrayBuffer>(ptr), 0, <i32>len);
}

/** The context of one call; its fields are decoded when first read. */
export function readContext(
  realityPtr: usize,
  realityLen: usize,
  topicPtr: usize,
  topicLen: usize,
  producerPtr: usize,
  producerLen: usize,
  headersPtr: usize,
  headersLen: usize,
  contentTypePtr: usize,
  contentTypeLen: usize,
): Context {
  return new Context(
    realityPtr,
    realityLen,
    topicPtr,
    topicLen,
    producerPtr,
    producerLen,
    headersPtr,
    headersLen,
    contentTypePtr,
    contentTypeLen,
  );
}

/** Stores `s` as a UTF-8 string (pointer, length) at `at`. */
export function storeString(at: usize, s: string): void {
  const buf = String.UTF8.encode(s);
  store<usize>(at, changetype<usize>(buf));
  store<usize>(at, <usize>buf.byteLength, 4);
}

/** Lays out a `verdict` (discriminant u8 at 0, case payload at 4; 20 bytes) and returns it. */
export function writeVerdict(v: Verdict): usize {
  const area = __alloc(20);
  storeVerdict(area, v);
  return area;
}

/** Lays out a `verdict` at `area` (20 bytes). */
export function storeVerdict(area: usize, v: Verdict): void {
  store<u8>(area, v.kind);
  if (v.kind == 1) {
    storeString(area + 4, v.reason);
  } else if (v.kind == 2) {
    const p = v.payload;
    if (p === null) {
      store<usize>(area, 0, 4);
      store<usize>(area, 0, 8);
    } else {
      store<usize>(area, p.dataStart, 4);
      store<usize>(area, <usize>p.length, 8);
    }
    storeString(area + 12, v.reason);
  }
}

/** Lays out a `result<_, string>`: ok when `error` is null. */
export function writeResult(error: string | null): usize {
  const area = __alloc(12);
  if (error === null) {
    store<u8>(area, 0);
  } else {
    store<u8>(area, 1);
    storeString(area + 4, error);
  }
  return area;
}

// The batch side ABI (see docs/policies.md, "Batched evaluation"): `evaluate_batch(ptr, n)`
// takes a `list<tuple<pulse-context, list<u8>>>` laid out as the canonical ABI lays it out
// (48 bytes an element) in ONE block the host allocated, and returns a `list<verdict>`
// (20 bytes an element) through a return area of (pointer, count).

/** Size of one lowered `tuple<pulse-context, list<u8>>`. */
export const BATCH_ELEMENT: usize = 48;
/** Size of one lowered `verdict`. */
export const VERDICT_SIZE: usize = 20;

/** The context of element `i` of a batch at `list`. */
export function readBatchContext(list: usize, i: usize): Context {
  const e = list + i * BATCH_ELEMENT;
  return new Context(
    load<usize>(e, 0),
    load<usize>(e, 4),
    load<usize>(e, 8),
    load<usize>(e, 12),
    load<usize>(e, 16),
    load<usize>(e, 20),
    load<usize>(e, 24),
    load<usize>(e, 28),
    load<usize>(e, 32),
    load<usize>(e, 36),
  );
}

/**
 * The payload of element `i`, viewed in place: the host writes the element array at the
 * start of the block it allocated (an ArrayBuffer object), every payload inside it.
 */
export function readBatchPayload(list: usize, i: usize): Uint8Array {
  const e = list + i * BATCH_ELEMENT;
  const len = load<usize>(e, 44);
  if (len == 0) return new Uint8Array(0);
  return Uint8Array.wrap(changetype<ArrayBuffer>(list), <i32>(load<usize>(e, 40) - list), <i32>len);
}

/** A return area for `n` verdicts: (pointer, count) at the result, the verdicts after it. */
export function batchResult(n: usize): usize {
  const ret = __alloc(8 + n * VERDICT_SIZE);
  store<usize>(ret, ret + 8);
  store<usize>(ret, n, 4);
  return ret;
}

/** Lays out verdict `i` of the result `ret` made by {@link batchResult}. */
export function storeBatchVerdict(ret: usize, i: usize, v: Verdict): void {
  storeVerdict(ret + 8 + i * VERDICT_SIZE, v);
}
