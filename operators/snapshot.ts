/**
 * Snapshots of an operator's state as `GET`/`PUT /v1/operators/{name}/state` carry them:
 * JSON `{"version": 1, "operator", "reality", "bytes", "entries": [{"key", "value"}]}` with
 * values in base64 (state values are bytes). Parsing checks a snapshot whole, so a restore
 * is all or nothing.
 * @module
 */
import { BusError } from "../runtime/protocol/mod.ts";
import { decodeBase64, encodeBase64 } from "./base64.ts";

/** The snapshot format this node writes and reads. */
export const SNAPSHOT_VERSION = 1;
/** Longest state key, UTF-8 bytes (as `state-set` allows). */
const MAX_KEY_BYTES = 1024;

const encoder = new TextEncoder();

/** One operator's state, as JSON. */
export interface OperatorSnapshot {
  /** Format version ({@linkcode SNAPSHOT_VERSION}). */
  readonly version: number;
  readonly operator: string;
  readonly reality: string;
  /** Keys plus values, bytes (what `--operator-state-bytes` bounds). */
  readonly bytes: number;
  /** Entries by key; `value` is base64. */
  readonly entries: readonly { readonly key: string; readonly value: string }[];
}

/** The snapshot of `entries` (sorted by key). */
export function encodeSnapshot(
  operator: string,
  reality: string,
  entries: readonly (readonly [string, Uint8Array])[],
): OperatorSnapshot {
  let bytes = 0;
  const out = [...entries].sort((a, b) => a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0).map(
    ([key, value]) => {
      bytes += encoder.encode(key).length + value.length;
      return { key, value: encodeBase64(value) };
    },
  );
  return { version: SNAPSHOT_VERSION, operator, reality, bytes, entries: out };
}

function bad(message: string): BusError {
  return new BusError("INVALID_ARGUMENT", `state snapshot: ${message}`);
}

/**
 * The entries of a snapshot. Throws `INVALID_ARGUMENT` naming what is malformed, or
 * `FRAME_TOO_LARGE` when keys plus values exceed `maxBytes`.
 */
export function parseSnapshot(value: unknown, maxBytes: number): [string, Uint8Array][] {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw bad("must be a JSON object");
  }
  const s = value as Record<string, unknown>;
  if (s.version !== SNAPSHOT_VERSION) {
    throw bad(`version must be ${SNAPSHOT_VERSION}, got ${JSON.stringify(s.version)}`);
  }
  if (!Array.isArray(s.entries)) throw bad("entries must be an array");
  const seen = new Set<string>();
  const entries: [string, Uint8Array][] = [];
  let bytes = 0;
  for (let i = 0; i < s.entries.length; i++) {
    const e = s.entries[i] as Record<string, unknown> | null;
    if (typeof e !== "object" || e === null || Array.isArray(e)) {
      throw bad(`entries[${i}] must be an object {key, value}`);
    }
    if (typeof e.key !== "string") throw bad(`entries[${i}].key must be a string`);
    const keyBytes = encoder.encode(e.key).length;
    if (keyBytes > MAX_KEY_BYTES) {
      throw bad(`entries[${i}].key has ${keyBytes} bytes, more than ${MAX_KEY_BYTES}`);
    }
    if (seen.has(e.key)) throw bad(`entries[${i}].key ${JSON.stringify(e.key)} is repeated`);
    seen.add(e.key);
    if (typeof e.value !== "string") throw bad(`entries[${i}].value must be a base64 string`);
    const decoded = decodeBase64(e.value);
    if (decoded === null) throw bad(`entries[${i}].value is not valid base64`);
    bytes += keyBytes + decoded.length;
    if (bytes > maxBytes) {
      throw new BusError(
        "FRAME_TOO_LARGE",
        `state snapshot: more than --operator-state-bytes (${maxBytes} bytes)`,
      );
    }
    entries.push([e.key, decoded]);
  }
  return entries;
}
