/**
 * Additional authenticated data for a stored record: the numbers that say where it
 * belongs (reality, rule, batch, time). Binding them into the GCM tag means a record
 * copied to another place in the database fails to open instead of being read there.
 * @module
 */

/** Encodes `fields` (non-negative integers below 2^53) as 8 bytes each, little endian. */
export function recordAad(...fields: number[]): Uint8Array {
  const out = new Uint8Array(fields.length * 8);
  const view = new DataView(out.buffer);
  for (let i = 0; i < fields.length; i++) view.setBigUint64(i * 8, BigInt(fields[i]), true);
  return out;
}
