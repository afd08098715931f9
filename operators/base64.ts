/**
 * Base64 (RFC 4648, padded) of state values in snapshots, on the engine's own codec.
 * @module
 */

// Not yet in TypeScript's lib: the engine (V8 in Deno 2.9) ships them.
type Codec = {
  fromBase64(s: string, o?: { lastChunkHandling?: string }): Uint8Array;
};

/** `bytes` as padded base64. */
export function encodeBase64(bytes: Uint8Array): string {
  return (bytes as unknown as { toBase64(): string }).toBase64();
}

/** The bytes of padded base64 `text`, or null when it is not valid base64. */
export function decodeBase64(text: string): Uint8Array | null {
  try {
    return (Uint8Array as unknown as Codec).fromBase64(text, { lastChunkHandling: "strict" });
  } catch {
    return null;
  }
}
