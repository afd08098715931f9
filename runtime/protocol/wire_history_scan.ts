/**
 * The client's fast read of a `HistoryChunk` (`Frame.history_chunk`, field 21): the
 * correlation id, the `done` flag and a view of each stored pulse's bytes, without
 * decoding any pulse. A history read of a million pulses then costs one scan of each
 * chunk's envelope instead of a protobufjs object (with maps and arrays) per pulse;
 * the pulses are decoded on access (`PulseView`).
 * @module
 */

/** What `scanHistoryChunk` found in one `HistoryChunk` body. */
export interface ScannedHistoryChunk {
  /** `HistoryChunk.correlation_id`. */
  readonly correlationId: number;
  /** Each `HistoryChunk.pulses` entry: a view into the frame, in order. */
  readonly pulses: Uint8Array[];
  /** `HistoryChunk.done`. */
  readonly done: boolean;
}

// A varint at `pos` up to 2^53, into `out`: false when truncated or longer than 10 bytes.
// One shared cell instead of a tuple per call: a chunk holds thousands of pulses.
const cell = { value: 0, pos: 0 };
function varint(b: Uint8Array, pos: number, end: number): boolean {
  let value = 0;
  let mul = 1;
  for (let i = 0; i < 10; i++) {
    if (pos >= end) return false;
    const byte = b[pos++];
    value += (byte & 0x7f) * mul;
    if (byte < 0x80) {
      cell.value = value;
      cell.pos = pos;
      return true;
    }
    mul *= 128;
  }
  return false;
}

/**
 * Reads the `HistoryChunk` message in `frame[start, end)`. Null when it holds anything
 * but its three fields as the node writes them (another field, another wire type, a
 * length past the end): the caller then decodes the frame with protobufjs, which reads
 * unknown fields faithfully or names the defect.
 */
export function scanHistoryChunk(
  frame: Uint8Array,
  start: number,
  end: number,
): ScannedHistoryChunk | null {
  let correlationId = 0;
  let done = false;
  const pulses: Uint8Array[] = [];
  let pos = start;
  while (pos < end) {
    const key = frame[pos++];
    if (key === 0x12) { // pulses = 2, length-delimited
      if (!varint(frame, pos, end)) return null;
      const len = cell.value;
      pos = cell.pos;
      if (len > end - pos) return null;
      pulses.push(frame.subarray(pos, pos + len));
      pos += len;
    } else if (key === 0x08) { // correlation_id = 1, varint
      if (!varint(frame, pos, end)) return null;
      correlationId = cell.value;
      pos = cell.pos;
    } else if (key === 0x18) { // done = 3, varint (any non-zero value is true)
      if (!varint(frame, pos, end)) return null;
      done = cell.value !== 0;
      pos = cell.pos;
    } else return null;
  }
  return { correlationId, pulses, done };
}
