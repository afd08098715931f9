/**
 * The node's way to get its cipher: `--key-file` if given, else the environment
 * (`ARQON_STORE_KEYS` / `ARQON_STORE_KEY`), else none (records stored in clear).
 * @module
 */
import { KeyRing } from "./key_ring.ts";
import { PayloadCipher } from "./payload_cipher.ts";

/** A cipher from a key file or the environment; undefined when neither is configured. */
export async function loadPayloadCipher(
  keyFile?: string,
  env: { get(name: string): string | undefined } = Deno.env,
): Promise<PayloadCipher | undefined> {
  const ring = keyFile ? await KeyRing.fromFile(keyFile) : KeyRing.fromEnv(env);
  return ring ? new PayloadCipher(ring) : undefined;
}
