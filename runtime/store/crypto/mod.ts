/**
 * Encryption at rest for the store: `PayloadCipher` seals records with AES-256-GCM under
 * a `KeyRing` whose keys carry ids, so keys rotate without rewriting the log.
 *
 * ```ts
 * const ring = KeyRing.fromEnv() ?? await KeyRing.fromFile(keyFile);
 * const cipher = new PayloadCipher(ring);
 * const stored = cipher.seal(bytes, aad);
 * const bytesAgain = cipher.open(stored, aad);
 * ```
 * @module
 */
export {
  createKeyRingFile,
  generateKey,
  KEY_RING_ENV,
  KeyRing,
  type KeyRingFile,
  rotateKeyRingFile,
  SINGLE_KEY_ENV,
} from "./key_ring.ts";
export { isSealedRecord, keyIdOf, PayloadCipher } from "./payload_cipher.ts";
export { loadPayloadCipher } from "./load.ts";
export { recordAad } from "./record_aad.ts";
