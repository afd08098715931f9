// Control parameters (`sys.control.set`), as the node hands them to `on-control`: the SDK
// keeps the last set so `handle` can read it with `controlParam`. The node guarantees that
// the set seen while handling a pulse is the one that was current when that pulse was
// sequenced.
//
// Memory: the set is copied into a buffer that lives below the release mark (see
// `@arqon/casil/abi`), so it survives the calls that follow. The buffer grows by doubling;
// a call that grows it keeps that call's allocations too (the mark moves past them), so
// what is kept stays within a small multiple of the largest set ever received.
import { release, remark } from "@arqon/casil/abi";
import { Header } from "@arqon/casil/types";

let buffer: usize = 0;
let capacity: usize = 0;
let grew = false;

/** Copies `on-control`'s (name, value) pairs at `ptr` (`n` of them) into the kept buffer. */
export function saveParams(ptr: usize, n: usize): void {
  let size: usize = 4;
  for (let i: usize = 0; i < n; i++) {
    const at = ptr + i * 16;
    size += 8 + load<usize>(at, 4) + load<usize>(at, 12);
  }
  if (size > capacity) {
    let next = capacity < 256 ? <usize>256 : capacity * 2;
    while (next < size) next *= 2;
    buffer = __alloc(next);
    capacity = next;
    grew = true;
  }
  store<u32>(buffer, <u32>n);
  let out = buffer + 4;
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

/** Ends an `on-control` call: keeps a grown buffer, else frees the call's allocations. */
export function endControl(): void {
  if (grew) {
    grew = false;
    remark();
  } else {
    release();
  }
}

/**
 * The value of control parameter `name` as JSON text (`0.7`, `"fast"`, `true`, ...), or null
 * when the current set has no such parameter.
 */
export function controlParam(name: string): string | null {
  if (buffer == 0) return null;
  const key = String.UTF8.encode(name);
  const keyLen = <usize>key.byteLength;
  const n = load<u32>(buffer);
  let at = buffer + 4;
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
  if (buffer == 0) return out;
  const n = load<u32>(buffer);
  let at = buffer + 4;
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
