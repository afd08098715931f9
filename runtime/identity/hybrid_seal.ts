/**
 * End-to-end payload sealing between agents: a hybrid X25519 + ML-KEM-768 key agreement
 * feeds HKDF-SHA-256, which yields a one-message AES-256-GCM key (WebCrypto). The node
 * routes the sealed bytes but holds no key that opens them. Hybrid means an attacker
 * must break both the classical and the post-quantum half.
 * @module
 */
import { concatBytes } from "../protocol/mod.ts";
import { x25519 } from "@noble/curves/ed25519.js";
import { ml_kem768 } from "@noble/post-quantum/ml-kem.js";

const X25519_BYTES = 32;
const MLKEM_PUBLIC_BYTES = 1184;
const MLKEM_SECRET_BYTES = 2400;
const MLKEM_CIPHERTEXT_BYTES = 1088;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const VERSION = 1;
/** `A` `S` then the version: lets a reader tell sealed payloads from plain ones. */
const MAGIC = [0x41, 0x53, VERSION] as const;
const HEADER_BYTES = MAGIC.length + X25519_BYTES + MLKEM_CIPHERTEXT_BYTES + IV_BYTES;
const INFO = new TextEncoder().encode("arqon.v1.seal x25519+mlkem768 aes-256-gcm");

/** A recipient's key pair. Publish `publicKey`; keep `secretKey` on the agent. */
export interface SealKeyPair {
  /** X25519 public key (32 bytes) followed by the ML-KEM-768 encapsulation key. */
  readonly publicKey: Uint8Array;
  /** X25519 secret key (32 bytes) followed by the ML-KEM-768 decapsulation key. */
  readonly secretKey: Uint8Array;
}

/** Size in bytes that sealing adds to a payload. */
export const SEAL_OVERHEAD_BYTES: number = HEADER_BYTES + TAG_BYTES;

/** Creates a recipient key pair for `seal`/`open`. */
export function generateSealKeyPair(): SealKeyPair {
  const x = x25519.keygen();
  const k = ml_kem768.keygen();
  return {
    publicKey: concatBytes(x.publicKey, k.publicKey),
    secretKey: concatBytes(x.secretKey, k.secretKey),
  };
}

/** True when `bytes` starts like a sealed envelope (a cheap check, not authentication). */
export function isSealed(bytes: Uint8Array): boolean {
  return bytes.length >= SEAL_OVERHEAD_BYTES && bytes[0] === MAGIC[0] &&
    bytes[1] === MAGIC[1] && bytes[2] === MAGIC[2];
}

/**
 * Seals `plaintext` for the holder of `recipientPublicKey`. `aad` (e.g. the topic) is
 * authenticated but not encrypted; `open` must be given the same bytes.
 */
export async function seal(
  recipientPublicKey: Uint8Array,
  plaintext: Uint8Array,
  aad: Uint8Array = new Uint8Array(0),
): Promise<Uint8Array> {
  if (recipientPublicKey.length !== X25519_BYTES + MLKEM_PUBLIC_BYTES) {
    throw new TypeError("recipient public key must be X25519 + ML-KEM-768 (1216 bytes)");
  }
  const recipientX = recipientPublicKey.subarray(0, X25519_BYTES);
  const recipientK = recipientPublicKey.subarray(X25519_BYTES);
  const ephemeral = x25519.keygen();
  const classical = x25519.getSharedSecret(ephemeral.secretKey, recipientX);
  const { cipherText, sharedSecret } = ml_kem768.encapsulate(recipientK);
  const iv = crypto.getRandomValues(new Uint8Array(IV_BYTES));
  const header = concatBytes(new Uint8Array(MAGIC), ephemeral.publicKey, cipherText, iv);
  const key = await deriveKey(classical, sharedSecret, header, recipientPublicKey);
  const sealed = new Uint8Array(
    await crypto.subtle.encrypt(
      { name: "AES-GCM", iv, additionalData: concatBytes(header, aad) },
      key,
      plaintext as Uint8Array<ArrayBuffer>,
    ),
  );
  return concatBytes(header, sealed);
}

/**
 * Opens an envelope made by `seal`. Throws if the envelope was altered, the aad differs,
 * or it was sealed for another key.
 */
export async function open(
  recipient: SealKeyPair,
  envelope: Uint8Array,
  aad: Uint8Array = new Uint8Array(0),
): Promise<Uint8Array> {
  if (!isSealed(envelope)) throw new TypeError("not a sealed envelope (v1)");
  let at = MAGIC.length;
  const ephemeralPublic = envelope.subarray(at, at += X25519_BYTES);
  const cipherText = envelope.subarray(at, at += MLKEM_CIPHERTEXT_BYTES);
  const iv = envelope.slice(at, at += IV_BYTES);
  const header = envelope.subarray(0, at);
  const classical = x25519.getSharedSecret(
    recipient.secretKey.subarray(0, X25519_BYTES),
    ephemeralPublic,
  );
  const postQuantum = ml_kem768.decapsulate(
    cipherText,
    recipient.secretKey.subarray(X25519_BYTES, X25519_BYTES + MLKEM_SECRET_BYTES),
  );
  const key = await deriveKey(classical, postQuantum, header, recipient.publicKey);
  try {
    return new Uint8Array(
      await crypto.subtle.decrypt(
        { name: "AES-GCM", iv, additionalData: concatBytes(header, aad) },
        key,
        envelope.subarray(at) as Uint8Array<ArrayBuffer>,
      ),
    );
  } catch {
    throw new Error("sealed envelope failed authentication (wrong key, aad or altered bytes)");
  }
}

/**
 * Both shared secrets go into one HKDF input, salted with the transcript (header and
 * recipient key) so a key is bound to this exact exchange.
 */
async function deriveKey(
  classical: Uint8Array,
  postQuantum: Uint8Array,
  header: Uint8Array,
  recipientPublicKey: Uint8Array,
): Promise<CryptoKey> {
  const ikm = await crypto.subtle.importKey(
    "raw",
    concatBytes(classical, postQuantum),
    "HKDF",
    false,
    [
      "deriveKey",
    ],
  );
  const salt = new Uint8Array(
    await crypto.subtle.digest("SHA-256", concatBytes(header, recipientPublicKey)),
  );
  return crypto.subtle.deriveKey(
    { name: "HKDF", hash: "SHA-256", salt, info: INFO },
    ikm,
    { name: "AES-GCM", length: 256 },
    false,
    ["encrypt", "decrypt"],
  );
}
