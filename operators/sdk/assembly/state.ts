// Durable key-value state (interface `arqon:bus/state`): committed with the outputs of the
// pulse being handled, kept across instance traps and node restarts. Linear memory is not
// state: the node may discard an instance at any time.

// @ts-ignore: decorator
@external("arqon:bus/state@0.1.0", "state-get")
declare function hostStateGet(keyPtr: usize, keyLen: usize, retptr: usize): void;

// @ts-ignore: decorator
@external("arqon:bus/state@0.1.0", "state-set")
declare function hostStateSet(
  keyPtr: usize,
  keyLen: usize,
  valuePtr: usize,
  valueLen: usize,
  retptr: usize,
): void;

// @ts-ignore: decorator
@external("arqon:bus/state@0.1.0", "state-delete")
declare function hostStateDelete(keyPtr: usize, keyLen: usize): void;

/** The value stored under `key`, or null. */
export function stateGet(key: string): Uint8Array | null {
  const k = String.UTF8.encode(key);
  const area = __alloc(12);
  hostStateGet(changetype<usize>(k), <usize>k.byteLength, area);
  if (load<u8>(area) == 0) return null;
  const len = load<usize>(area, 8);
  if (len == 0) return new Uint8Array(0);
  // The host wrote the value into a `cabi_realloc` block, which is an ArrayBuffer object.
  return Uint8Array.wrap(changetype<ArrayBuffer>(load<usize>(area, 4)), 0, <i32>len);
}

/** The value under `key` as UTF-8 text, or null. */
export function stateGetString(key: string): string | null {
  const v = stateGet(key);
  if (v === null) return null;
  return String.UTF8.decodeUnsafe(v.dataStart, <usize>v.length);
}

/** Stores `value` under `key`; returns an error message (nothing stored) or null. */
export function stateSet(key: string, value: Uint8Array): string | null {
  const k = String.UTF8.encode(key);
  const area = __alloc(12);
  hostStateSet(
    changetype<usize>(k),
    <usize>k.byteLength,
    value.dataStart,
    <usize>value.length,
    area,
  );
  if (load<u8>(area) == 0) return null;
  return String.UTF8.decodeUnsafe(load<usize>(area, 4), load<usize>(area, 8));
}

/** Stores `value` (as UTF-8) under `key`; returns an error message or null. */
export function stateSetString(key: string, value: string): string | null {
  return stateSet(key, Uint8Array.wrap(String.UTF8.encode(value)));
}

/** Removes `key`. */
export function stateDelete(key: string): void {
  const k = String.UTF8.encode(key);
  hostStateDelete(changetype<usize>(k), <usize>k.byteLength);
}
