/**
 * AES-256-GCM for payloads at rest. Each record is self-describing:
 *
 *   0xA7 | version 1 | key id length | key id | iv (12) | ciphertext | tag (16)
 *
 * so a reader picks the right key from the ring and key rotation needs no rewrite.
 * Synchronous (node:crypto), because the log's `read` is synchronous.
 * @module
 */
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import type { KeyRing } from "./key_ring.ts";

const MAGIC = 0xa7;
const VERSION = 1;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Encrypts and decrypts records with the keys of a `KeyRing`. */
export class PayloadCipher {
  readonly #ring: KeyRing;
  readonly #activeKey: Uint8Array;
  readonly #activeHeader: Uint8Array;

  /** Seals with the ring's active key; opens with whichever key a record names. */
  constructor(ring: KeyRing) {
    this.#ring = ring;
    this.#activeKey = ring.key(ring.activeId)!;
    const id = encoder.encode(ring.activeId);
    this.#activeHeader = new Uint8Array([MAGIC, VERSION, id.length, ...id]);
  }

  /** The key id new records carry. */
  get activeKeyId(): string {
    return this.#ring.activeId;
  }

  /** Bytes `seal` adds to a record with the active key. */
  get overhead(): number {
    return this.#activeHeader.length + IV_BYTES + TAG_BYTES;
  }

  /**
   * Encrypts `plaintext`. `aad` (e.g. reality and sequence) is authenticated, not stored:
   * `open` must get the same bytes, so a record cannot be moved to another place unnoticed.
   */
  seal(plaintext: Uint8Array, aad?: Uint8Array): Uint8Array {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv("aes-256-gcm", this.#activeKey, iv);
    if (aad) cipher.setAAD(aad);
    const body = cipher.update(plaintext);
    const tail = cipher.final();
    const tag = cipher.getAuthTag();
    const header = this.#activeHeader;
    const out = new Uint8Array(header.length + IV_BYTES + body.length + tail.length + TAG_BYTES);
    let at = 0;
    out.set(header, at);
    out.set(iv, at += header.length);
    out.set(body, at += IV_BYTES);
    out.set(tail, at += body.length);
    out.set(tag, at + tail.length);
    return out;
  }

  /** Decrypts a record; throws if its key is not in the ring or the bytes were altered. */
  open(record: Uint8Array, aad?: Uint8Array): Uint8Array {
    const id = keyIdOf(record);
    const key = this.#ring.key(id);
    if (!key) throw new Error(`record sealed with key "${id}", which the key ring lacks`);
    const start = 3 + record[2];
    if (record.length < start + IV_BYTES + TAG_BYTES) throw new Error("sealed record truncated");
    const iv = record.subarray(start, start + IV_BYTES);
    const tagAt = record.length - TAG_BYTES;
    const decipher = createDecipheriv("aes-256-gcm", key, iv);
    decipher.setAuthTag(record.subarray(tagAt));
    if (aad) decipher.setAAD(aad);
    try {
      const body = decipher.update(record.subarray(start + IV_BYTES, tagAt));
      const tail = decipher.final();
      if (tail.length === 0) return new Uint8Array(body.buffer, body.byteOffset, body.length);
      const out = new Uint8Array(body.length + tail.length);
      out.set(body);
      out.set(tail, body.length);
      return out;
    } catch {
      throw new Error(`sealed record failed authentication (key "${id}")`);
    }
  }
}

/** True when `bytes` begins like a sealed record. */
export function isSealedRecord(bytes: Uint8Array): boolean {
  return bytes.length >= 3 + IV_BYTES + TAG_BYTES && bytes[0] === MAGIC && bytes[1] === VERSION;
}

/** The key id a sealed record names; throws if it is not a sealed record. */
export function keyIdOf(record: Uint8Array): string {
  if (!isSealedRecord(record)) throw new Error("not a sealed record (v1)");
  return decoder.decode(record.subarray(3, 3 + record[2]));
}
