/**
 * Reading a body with a cap, both ways (upstream responses, HTTP clients' requests): the
 * stream is cancelled as soon as it passes the cap, so a huge or endless body costs at
 * most the cap in memory.
 * @module
 */

/**
 * The whole of `body`, or throws `tooLarge()` once more than `max` bytes arrived (the
 * stream is cancelled first). When `signal` aborts, the stream is cancelled and its
 * reason thrown (a sender too slow to finish).
 */
export async function readCapped(
  body: ReadableStream<Uint8Array> | null,
  max: number,
  tooLarge: () => Error,
  signal?: AbortSignal,
): Promise<Uint8Array> {
  if (!body) return new Uint8Array(0);
  const reader = body.getReader();
  if (signal) {
    signal.throwIfAborted();
    signal.addEventListener("abort", () => reader.cancel().catch(() => {}), { once: true });
  }
  const parts: Uint8Array[] = [];
  let size = 0;
  while (true) {
    const { value, done } = await reader.read();
    signal?.throwIfAborted();
    if (done) break;
    size += value.length;
    if (size > max) {
      await reader.cancel().catch(() => {});
      throw tooLarge();
    }
    parts.push(value);
  }
  if (parts.length === 1) return parts[0];
  const out = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
