// Control parameters (`sys.control.set`), as the node hands them to `on-control`: the SDK
// keeps the last set so `handle` can read it with `controlParam`. The node guarantees that
// the set seen while handling a pulse is the one that was current when that pulse was
// sequenced.
//
// Memory: the set is copied into a buffer that lives below the release mark (see
// `@arqon/casil/abi`), so it survives the calls that follow. A set larger than the buffer
// is first copied into a block of the call's own; when the call ends, everything it
// allocated is released and a buffer twice as large is taken at the mark, where the copy
// is moved (it lies above it: the move is safe). Outgrown buffers stay below the mark, so
// what is kept stays under about three times the largest set ever received.
import { release, remark } from "@arqon/casil/abi";
import { Header } from "@arqon/casil/types";

let buffer: usize = 0;
let capacity: usize = 0;
/** A set larger than the buffer, held until the call ends (0: none). */
let pending: usize = 0;
let pendingSize: usize = 0;

/** Copies `on-control`'s (name, value) pairs at `ptr` (`n` of them) where it is kept. */
export function saveParams(ptr: usize, n: usize): void {
  let size: usize = 4;
  for (let i: usize = 0; i < n; i++) {
    const at = ptr + i * 16;
    size += 8 + load<usize>(at, 4) + load<usize>(at, 12);
  }
  let to = buffer;
  if (size > capacity) {
    to = pending = __alloc(size);
    pendingSize = size;
  }
  store<u32>(to, <u32>n);
  let out = to + 4;
  for (let i: usize = 0; i < n; i++) {
    const at = ptr + i * 16;
    const kl = load<usize>(at, 4);
    const vl = load<usize>(at, 12);
    store<u32>(out, <u32>kl);
    memory.copy(out + 4, load<usize>(at), kl);
    out += 4 + kl;
    store<u32>(out, <u32>vl);
    memory.copy(out + 4, load<usize>(at, 8), vl);
    out += 4 + vl;
  }
}

/** Ends an `on-control` call: frees its allocations, keeping a set that outgrew the buffer. */
export function endControl(): void {
  release();
  if (pending == 0) return;
  let next = capacity < 256 ? <usize>256 : capacity * 2;
  while (next < pendingSize) next *= 2;
  // Taken at the mark, below the released block `pending` still points into.
  buffer = __alloc(next);
  memory.copy(buffer, pending, pendingSize);
  capacity = next;
  pending = 0;
  remark();
}

function current(): usize {
  return pending != 0 ? pending : buffer;
}

/**
 * The value of control parameter `name` as JSON text (`0.7`, `"fast"`, `true`, ...), or null
 * when the current set has no such parameter.
 */
export function controlParam(name: string): string | null {
  const set = current();
  if (set == 0) return null;
  const key = String.UTF8.encode(name);
  const keyLen = <usize>key.byteLength;
  const n = load<u32>(set);
  let at = set + 4;
  for (let i: u32 = 0; i < n; i++) {
    const kl = <usize>load<u32>(at);
    const kp = at + 4;
    at = kp + kl;
    const vl = <usize>load<u32>(at);
    const vp = at + 4;
    at = vp + vl;
    if (kl == keyLen && memory.compare(kp, changetype<usize>(key), kl) == 0) {
      return String.UTF8.decodeUnsafe(vp, vl);
    }
  }
  return null;
}

/** Control parameter `name` as a number, or `fallback` when absent or not a number. */
export function controlParamFloat(name: string, fallback: f64): f64 {
  const text = controlParam(name);
  if (text === null) return fallback;
  const v = parseFloat(text);
  return isNaN(v) ? fallback : v;
}

/** Every control parameter of the current set, as (name, JSON text) headers, by name. */
export function controlParams(): Header[] {
  const out = new Array<Header>(0);
  const set = current();
  if (set == 0) return out;
  const n = load<u32>(set);
  let at = set + 4;
  for (let i: u32 = 0; i < n; i++) {
    const kl = <usize>load<u32>(at);
    const kp = at + 4;
    at = kp + kl;
    const vl = <usize>load<u32>(at);
    const vp = at + 4;
    at = vp + vl;
    out.push(new Header(String.UTF8.decodeUnsafe(kp, kl), String.UTF8.decodeUnsafe(vp, vl)));
  }
  return out;
}
