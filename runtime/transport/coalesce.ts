/**
 * The write step every server carrier's outbound queue shares (WebSocket, raw TCP, MQTT):
 * the frames at the head of the queue joined into one write, so a turn's frames cost one
 * system call.
 * @module
 */

/** What {@linkcode takeCoalesced} took off a queue. */
export interface Coalesced {
  /** The frames joined (the frame itself when only one was taken). */
  readonly chunk: Uint8Array;
  /** How many frames were taken. */
  readonly count: number;
}

/**
 * A frame at least this large is written on its own, never copied into a join: its one
 * system call is already amortized over its bytes, and copying it cost more than the call
 * saved (a history read's 256 KiB chunks were copied a second time here:
 * docs/performance.md).
 */
export const WRITE_ALONE_BYTES = 64 * 1024;

/**
 * Takes frames off the front of `queue` while they fit in `maxBytes` together (at least
 * one, whatever its size) and joins them. A frame of `WRITE_ALONE_BYTES` or more is taken
 * alone: first in the queue, it is the chunk itself; after smaller ones, it waits for the
 * next take.
 *
 * @example
 * ```ts
 * import { takeCoalesced } from "./coalesce.ts";
 * const queue = [new Uint8Array(3), new Uint8Array(4), new Uint8Array(10)];
 * const { chunk, count } = takeCoalesced(queue, 8);
 * console.assert(count === 2 && chunk.length === 7 && queue.length === 1);
 * ```
 */
export function takeCoalesced(queue: Uint8Array[], maxBytes: number): Coalesced {
  if (queue.length === 0) return { chunk: new Uint8Array(0), count: 0 };
  let size = queue[0].length;
  let n = 1;
  if (size < WRITE_ALONE_BYTES) {
    while (
      n < queue.length && queue[n].length < WRITE_ALONE_BYTES && size + queue[n].length <= maxBytes
    ) {
      size += queue[n++].length;
    }
  }
  const parts = queue.splice(0, n);
  if (parts.length === 1) return { chunk: parts[0], count: 1 };
  const chunk = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    chunk.set(p, at);
    at += p.length;
  }
  return { chunk, count: n };
}

/** Writes all of `chunk` to `conn` (a socket write may take part of it). */
export async function writeChunk(conn: Deno.Conn, chunk: Uint8Array): Promise<void> {
  let written = 0;
  while (written < chunk.length) written += await conn.write(chunk.subarray(written));
}
