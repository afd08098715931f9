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
 * Takes frames off the front of `queue` while they fit in `maxBytes` together (at least
 * one, whatever its size) and joins them.
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
  let size = 0;
  let n = 0;
  while (n < queue.length && (n === 0 || size + queue[n].length <= maxBytes)) {
    size += queue[n++].length;
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
