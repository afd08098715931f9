/**
 * Keys for encryption at rest, each with an id so records name the key that sealed them
 * and keys can rotate: new records use the active key, old records still open with the
 * key they name. Loaded from `--key-file` (JSON, mode 0600) or an environment variable.
 * @module
 */
import { Buffer } from "node:buffer";
import { createHash, randomBytes } from "node:crypto";

/** Key ids are written into every record; keep them short. */
const MAX_KEY_ID_BYTES = 32;
const KEY_BYTES = 32;

/** Environment variable holding a key ring as JSON (same shape as the key file). */
export const KEY_RING_ENV = "ARQON_STORE_KEYS";
/** Environment variable holding one base64 AES-256 key; its id derives from the key. */
export const SINGLE_KEY_ENV = "ARQON_STORE_KEY";

/** The key file's JSON shape: `keys` maps id to base64 key, `active` seals new records. */
export interface KeyRingFile {
  readonly active: string;
  readonly keys: Readonly<Record<string, string>>;
}

/** A set of AES-256 keys by id, one of them active. */
export class KeyRing {
  /** The id new records are sealed with. */
  readonly activeId: string;
  readonly #keys: ReadonlyMap<string, Uint8Array>;

  /** Checks every key is 32 bytes and the active id exists. */
  constructor(keys: ReadonlyMap<string, Uint8Array>, activeId: string) {
    for (const [id, key] of keys) {
      if (id.length === 0 || new TextEncoder().encode(id).length > MAX_KEY_ID_BYTES) {
        throw new TypeError(`key id "${id}" must be 1-${MAX_KEY_ID_BYTES} bytes`);
      }
      if (key.length !== KEY_BYTES) throw new TypeError(`key "${id}" must be 32 bytes (AES-256)`);
    }
    if (!keys.has(activeId)) throw new TypeError(`active key "${activeId}" is not in the ring`);
    this.#keys = keys;
    this.activeId = activeId;
  }

  /** The key with `id`, or undefined when the ring does not hold it. */
  key(id: string): Uint8Array | undefined {
    return this.#keys.get(id);
  }

  /** Every key id in the ring. */
  ids(): string[] {
    return [...this.#keys.keys()];
  }

  /** Parses the key file JSON shape. */
  static fromJson(json: unknown): KeyRing {
    const file = json as KeyRingFile;
    if (!file || typeof file.active !== "string" || typeof file.keys !== "object") {
      throw new TypeError('key ring must be {"active": "<id>", "keys": {"<id>": "<base64>"}}');
    }
    const keys = new Map<string, Uint8Array>();
    for (const [id, b64] of Object.entries(file.keys)) keys.set(id, fromBase64(b64, id));
    return new KeyRing(keys, file.active);
  }

  /** Reads a key file. */
  static async fromFile(path: string): Promise<KeyRing> {
    return KeyRing.fromJson(JSON.parse(await Deno.readTextFile(path)));
  }

  /**
   * Reads `ARQON_STORE_KEYS` (a ring as JSON) or `ARQON_STORE_KEY` (one base64 key);
   * undefined when neither is set.
   */
  static fromEnv(env: { get(name: string): string | undefined } = Deno.env): KeyRing | undefined {
    const ring = env.get(KEY_RING_ENV);
    if (ring) return KeyRing.fromJson(JSON.parse(ring));
    const single = env.get(SINGLE_KEY_ENV);
    if (!single) return undefined;
    const key = fromBase64(single, SINGLE_KEY_ENV);
    // The id derives from the key so it stays the same across restarts.
    const id = "env-" + createHash("sha256").update(key).digest("hex").slice(0, 12);
    return new KeyRing(new Map([[id, key]]), id);
  }
}

/** A new random key id and key. */
export function generateKey(): { id: string; key: string } {
  return {
    id: "k" + randomBytes(6).toString("hex"),
    key: randomBytes(KEY_BYTES).toString("base64"),
  };
}

/** Writes a new key file with one fresh active key (mode 0600, never overwrites). */
export async function createKeyRingFile(path: string): Promise<string> {
  const { id, key } = generateKey();
  const file: KeyRingFile = { active: id, keys: { [id]: key } };
  await Deno.writeTextFile(path, JSON.stringify(file, null, 2) + "\n", {
    createNew: true,
    mode: 0o600,
  });
  return id;
}

/**
 * Adds a fresh key to an existing key file and makes it active; old keys stay so old
 * records still open. Returns the new id.
 */
export async function rotateKeyRingFile(path: string): Promise<string> {
  const file = JSON.parse(await Deno.readTextFile(path)) as KeyRingFile;
  KeyRing.fromJson(file);
  const { id, key } = generateKey();
  const next: KeyRingFile = { active: id, keys: { ...file.keys, [id]: key } };
  const tmp = `${path}.tmp`;
  await Deno.writeTextFile(tmp, JSON.stringify(next, null, 2) + "\n", { mode: 0o600 });
  await Deno.rename(tmp, path);
  return id;
}

function fromBase64(b64: string, name: string): Uint8Array {
  if (typeof b64 !== "string" || !/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) {
    throw new TypeError(`key "${name}" is not base64`);
  }
  return new Uint8Array(Buffer.from(b64, "base64"));
}
