// Canonical ABI glue between the ArqonBus host and an AssemblyScript policy (world
// `arqon:bus/policy`). The generated entry of every policy re-exports `cabi_realloc` and calls
// the readers/writers below; authors never touch this file.
//
// Memory model: the stub runtime is a bump allocator that never frees. Everything a call
// allocates (arguments copied in by the host, the author's objects, the result) is released in
// `cabi_post_*` by moving the bump pointer back to a mark taken after `configure`, so state
// built at start-up or in `configure` survives and per-call garbage does not accumulate.
import { BLOCK_OVERHEAD } from "~lib/rt/common";
import { Context, Header, Verdict } from "./types";

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

/** `cabi_realloc` as the canonical ABI requires; the stub aligns every block to 16 bytes. */
export function cabi_realloc(oldPtr: usize, oldSize: usize, align: usize, newSize: usize): usize {
  ensureMark();
  if (oldPtr == 0) return __alloc(newSize);
  return __realloc(oldPtr, newSize);
}

/** Reads a UTF-8 string passed by the host. */
export function readString(ptr: usize, len: usize): string {
  return String.UTF8.decodeUnsafe(ptr, len);
}

/** Copies a `list<u8>` passed by the host into a typed array. */
export function readBytes(ptr: usize, len: usize): Uint8Array {
  const out = new Uint8Array(<i32>len);
  memory.copy(out.dataStart, ptr, len);
  return out;
}

/** Builds the context record from its flattened fields. */
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
  const headers = new Array<Header>(<i32>headersLen);
  for (let i: usize = 0; i < headersLen; i++) {
    const at = headersPtr + i * 16;
    headers[<i32>i] = new Header(
      readString(load<usize>(at), load<usize>(at, 4)),
      readString(load<usize>(at, 8), load<usize>(at, 12)),
    );
  }
  return new Context(
    readString(realityPtr, realityLen),
    readString(topicPtr, topicLen),
    readString(producerPtr, producerLen),
    headers,
    readString(contentTypePtr, contentTypeLen),
  );
}

function storeString(at: usize, s: string): void {
  const buf = String.UTF8.encode(s);
  store<usize>(at, changetype<usize>(buf));
  store<usize>(at, <usize>buf.byteLength, 4);
}

/** Lays out a `verdict` (discriminant u8 at 0, case payload at 4; 20 bytes) and returns it. */
export function writeVerdict(v: Verdict): usize {
  const area = __alloc(20);
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
  return area;
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
