/**
 * A deliberately independent protobuf writer/reader for end-to-end tests: frames are
 * built byte by byte from the field numbers in arqon.proto, not with the node's codec,
 * so a test catches a codec that drifts from the schema.
 * @module
 */

const enc = new TextEncoder();
const dec = new TextDecoder();

/** A protobuf field value: varint number, string, bytes, or a nested message. */
export type PbValue = number | string | Uint8Array | PbField[];
/** One field: [field number, value]. */
export type PbField = [number, PbValue];

function varint(n: number): number[] {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n % 128) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return out;
}

/** Encodes a message from its fields, in order. */
export function pb(fields: PbField[]): Uint8Array {
  const out: number[] = [];
  for (const [num, value] of fields) {
    if (typeof value === "number") {
      out.push(...varint(num << 3), ...varint(value));
      continue;
    }
    const bytes = typeof value === "string"
      ? enc.encode(value)
      : value instanceof Uint8Array
      ? value
      : pb(value);
    out.push(...varint((num << 3) | 2), ...varint(bytes.length), ...bytes);
  }
  return new Uint8Array(out);
}

/** A decoded message: field number to the list of raw values (numbers or bytes). */
export type PbMessage = Map<number, (number | Uint8Array)[]>;

/** Decodes one message level (varint and length-delimited fields only). */
export function unpb(bytes: Uint8Array): PbMessage {
  const out: PbMessage = new Map();
  let pos = 0;
  const readVarint = () => {
    let result = 0;
    let mul = 1;
    while (true) {
      const b = bytes[pos++];
      result += (b & 0x7f) * mul;
      if (b < 0x80) return result;
      mul *= 128;
    }
  };
  while (pos < bytes.length) {
    const key = readVarint();
    const num = Math.floor(key / 8);
    const wire = key & 7;
    let value: number | Uint8Array;
    if (wire === 0) value = readVarint();
    else if (wire === 2) {
      const len = readVarint();
      value = bytes.subarray(pos, pos + len);
      pos += len;
    } else if (wire === 1) {
      value = bytes.subarray(pos, pos + 8);
      pos += 8;
    } else if (wire === 5) {
      value = bytes.subarray(pos, pos + 4);
      pos += 4;
    } else throw new Error(`unsupported wire type ${wire}`);
    if (!out.has(num)) out.set(num, []);
    out.get(num)!.push(value);
  }
  return out;
}

/** The first value of a field as a number (0 when absent). */
export function num(m: PbMessage, field: number): number {
  return (m.get(field)?.at(-1) as number | undefined) ?? 0;
}

/** The last value of a field as a string ("" when absent). */
export function str(m: PbMessage, field: number): string {
  const v = m.get(field)?.at(-1);
  return v instanceof Uint8Array ? dec.decode(v) : "";
}

/** The last value of a field as a nested message. */
export function msg(m: PbMessage, field: number): PbMessage {
  const v = m.get(field)?.at(-1);
  return unpb(v instanceof Uint8Array ? v : new Uint8Array(0));
}

/**
 * Flattens a server message into its frames: a `Frame{batch}` (field 14) yields each
 * inner frame, anything else itself. Each frame is [kind field number, body].
 */
export function frames(bytes: Uint8Array): [number, PbMessage][] {
  const top = unpb(bytes);
  const out: [number, PbMessage][] = [];
  const batch = top.get(14);
  if (batch) {
    for (const f of unpb(batch[0] as Uint8Array).get(1) ?? []) {
      const inner = unpb(f as Uint8Array);
      const [kind, vals] = [...inner.entries()][0];
      out.push([kind, unpb(vals[0] as Uint8Array)]);
    }
    return out;
  }
  const [kind, vals] = [...top.entries()][0];
  out.push([kind, unpb(vals[0] as Uint8Array)]);
  return out;
}

/** Field numbers of `Frame` kinds, from arqon.proto. */
export const F = {
  hello: 1,
  welcome: 2,
  publish: 3,
  ack: 4,
  subscribe: 5,
  subscribed: 6,
  unsubscribe: 7,
  deliver: 8,
  request: 9,
  reply: 10,
  error: 11,
  ping: 12,
  pong: 13,
  batch: 14,
  credit: 15,
} as const;

/** The bytes of `parts`, one after another. */
export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
